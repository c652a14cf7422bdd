"""Query placeholders are filled per variant and window with a regex, never with jinja."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rollout.errors import InvalidInput
from rollout.loading import QUERY_PLACEHOLDERS
from rollout.metrics import Window
from rollout.metrics.render import PLACEHOLDERS, render_query

END = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
WINDOW = Window(END - timedelta(seconds=90), END)


def render(template: str, **over: object) -> str:
    args: dict[str, object] = dict(
        variant="candidate",
        target="gpt41-support",
        window=WINDOW,
        model="gpt-4.1",
        model_version="2025-04-14",
        stage="pilot",
        interval=30,
    )
    args.update(over)
    return render_query(template, **args)  # type: ignore[arg-type]


def test_every_placeholder_is_filled() -> None:
    t = (
        "{{ variant }}|{{ target }}|{{ window }}|{{ model }}|{{ model_version }}|{{ stage }}"
        "|{{ interval }}"
    )
    assert render(t) == "candidate|gpt41-support|90s|gpt-4.1|2025-04-14|pilot|30s"


def test_promql_query_is_rendered_for_each_variant() -> None:
    t = 'sum(increase(llm_requests_total{variant="{{ variant }}",code=~"5.."}[{{ window }}]))'
    assert (
        render(t, variant="baseline")
        == 'sum(increase(llm_requests_total{variant="baseline",code=~"5.."}[90s]))'
    )
    assert render(t) == 'sum(increase(llm_requests_total{variant="candidate",code=~"5.."}[90s]))'


def test_spacing_inside_braces_does_not_matter() -> None:
    assert render("{{variant}}-{{  stage  }}") == "candidate-pilot"


def test_missing_model_version_renders_empty() -> None:
    assert render('x{version="{{ model_version }}"}', model_version=None) == 'x{version=""}'


def test_prometheus_label_braces_are_left_alone() -> None:
    t = 'rate(x{a="1"}[5m]) / on() group_left {b="2"}'
    assert render(t) == t


def test_unknown_placeholder_is_invalid_input_listing_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as e:
        render('x{deployment="{{ deployment }}"}')
    msg = str(e.value)
    assert "{{ deployment }}" in msg and "{{ variant }}" in msg and "{{ window }}" in msg


def test_jinja_expressions_are_not_evaluated() -> None:
    with pytest.raises(InvalidInput):
        render("{{ variant | upper }}")
    with pytest.raises(InvalidInput):
        render("{{ 7 * 7 }}")


def test_substituted_values_are_not_rendered_again() -> None:
    # A target that itself looks like a placeholder must come out verbatim (single pass).
    assert render("{{ target }}", target="{{ stage }}") == "{{ stage }}"


def test_window_is_whole_seconds_and_at_least_one() -> None:
    tiny = Window(END - timedelta(milliseconds=200), END)
    assert render("[{{ window }}]", window=tiny) == "[1s]"


def test_placeholders_match_what_load_leaves_alone() -> None:
    assert tuple(PLACEHOLDERS) == tuple(QUERY_PLACEHOLDERS)
