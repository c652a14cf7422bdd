from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.durations import MAX_SECONDS, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1d2h3m4s", 93784),
        (" 5M ", 300),
        ("0", 0),
        ("45", 45),
        (90, 90),
        (12.0, 12),
    ],
)
def test_parses(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "m",
        "5x",
        "5 m",
        "1h 30m",
        "-5s",
        "h1",
        "1.5h",
        -1,
        1.5,
        True,
        None,
        [1],
        {"a": 1},
        math.inf,
        -math.inf,
        math.nan,
        1e300,
        "9999999999d",
        MAX_SECONDS + 1,
    ],
)
def test_rejects_with_value_error_only(bad: object) -> None:
    # ValueError (and nothing else) is what pydantic turns into a located plan error.
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_cap_is_inclusive() -> None:
    assert parse_duration(MAX_SECONDS) == MAX_SECONDS
    assert parse_duration("366d") == MAX_SECONDS


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (5, "5s"), (60, "1m"), (5400, "1h30m"), (90061, "1d1h1m1s"), (59.6, "1m")],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=MAX_SECONDS))
def test_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.one_of(st.text(max_size=12), st.floats(), st.integers(), st.none(), st.booleans()))
def test_never_raises_anything_but_value_error(value: object) -> None:
    try:
        out = parse_duration(value)
    except ValueError:
        return
    assert isinstance(out, int) and 0 <= out <= MAX_SECONDS
