from __future__ import annotations

from pathlib import Path

import pytest

from rollout.errors import InvalidInput
from rollout.sim.scenarios import BUILTIN, builtin, resolve


def test_every_builtin_validates_and_health_is_right() -> None:
    healthy = {"healthy", "drift", "incident", "broken-router", "cheaper-equal-quality"}
    for name in BUILTIN:
        s = resolve(name)
        assert s.name == name and s.healthy == (name in healthy)
    assert builtin("error-2x").candidate.error_ratio == 2.0
    assert builtin("healthy", requests_per_minute=100).requests_per_minute == 100


def test_yaml_file(tmp_path: Path) -> None:
    f = tmp_path / "slow.yaml"
    f.write_text(
        "requests_per_minute: 500\n"
        "candidate: {tail_fraction: 0.03, tail_seconds: 3}\n"
        "incidents: [{start_minute: 5}]\n"
    )
    s = resolve(str(f))
    assert (
        s.name == "slow"
        and s.requests_per_minute == 500
        and s.incidents[0].error_factor == 5
        and not s.healthy
    )


def test_bad_scenarios_are_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="built-in"):
        resolve("nope")
    f = tmp_path / "bad.yaml"
    f.write_text("candidate: {error_ratio: -1}\n")
    with pytest.raises(InvalidInput, match=r"candidate\.error_ratio"):
        resolve(str(f))
    f.write_text("- a list\n")
    with pytest.raises(InvalidInput, match="mapping"):
        resolve(str(f))
