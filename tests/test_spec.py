from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from rollout.spec import PlanRuleErrors, PlanSpec, Stage, slug_ok

BASE: dict[str, Any] = {
    "apiVersion": "rollout/v1",
    "kind": "Plan",
    "name": "demo",
    "variants": {"baseline": {"model": "a"}, "candidate": {"model": "b"}},
    "router": {"type": "file", "path": "r.json"},
    "metrics": {"type": "simulated"},
    "gates": [{"name": "err", "kind": "proportion", "events": "e", "total": "t", "max_ratio": 1.2}],
    "stages": [{"name": "pilot", "weight": 5, "bake": "1m"}, {"name": "full", "weight": 100}],
}


def plan(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d.update(changes)
    return d


def errors(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """(loc, message) for every problem, rule problems expanded."""
    with pytest.raises(ValidationError) as info:
        PlanSpec.model_validate(data)
    out: list[tuple[tuple[Any, ...], str]] = []
    for e in info.value.errors():
        err = (e.get("ctx") or {}).get("error")
        if isinstance(err, PlanRuleErrors):
            out += [(tuple(loc), msg) for loc, msg in err.problems]
        else:
            out.append((tuple(e["loc"]), str(e["msg"])))
    return out


def test_valid_plan_fills_defaults() -> None:
    spec = PlanSpec.model_validate(BASE)
    assert spec.stages[0].bake == 60
    assert spec.analysis.interval == 60 and spec.analysis.method == "sequential"
    assert spec.router.options() == {"path": "r.json"}


def test_weight_out_of_range_names_the_item() -> None:
    data = plan(stages=[{"name": "a", "weights": [5, 0, 101]}, {"name": "full", "weight": 100}])
    locs = [loc for loc, _ in errors(data)]
    assert ("stages", 0, "weights", 1) in locs and ("stages", 0, "weights", 2) in locs


def test_weights_must_rise_across_stages() -> None:
    data = plan(
        stages=[
            {"name": "a", "weights": [10, 30]},
            {"name": "b", "weight": 20},
            {"name": "full", "weight": 100},
        ]
    )
    [(loc, msg)] = errors(data)
    assert loc == ("stages", 1, "weight") and "20 follows 30" in msg


def test_last_stage_must_reach_100() -> None:
    [(loc, msg)] = errors(plan(stages=[{"name": "a", "weight": 50}]))
    assert loc == ("stages", 0) and "reach weight 100" in msg


def test_duplicate_stage_and_unknown_gate_reported_together() -> None:
    data = plan(stages=[{"name": "a", "weight": 5, "gates": ["er"]}, {"name": "a", "weight": 100}])
    found = dict(errors(data))
    assert "duplicate stage name 'a'" in found[("stages", 1, "name")]
    assert "unknown gate 'er'" in found[("stages", 0, "gates", 0)]


def test_unknown_gate_suggests_close_name() -> None:
    data = plan(stages=[{"name": "a", "weight": 100, "gates": ["erx"]}])
    [(_, msg)] = errors(data)
    assert "did you mean 'err'" in msg


def test_bake_shorter_than_interval() -> None:
    data = plan(analysis={"interval": "5m"})
    [(loc, msg)] = errors(data)
    assert loc == ("stages", 0, "bake") and "shorter than analysis.interval" in msg


def test_exactly_one_of_weight_or_weights() -> None:
    with pytest.raises(ValidationError, match="exactly one of weight or weights"):
        Stage.model_validate({"name": "a", "weight": 5, "weights": [10]})
    with pytest.raises(ValidationError, match="exactly one of weight or weights"):
        Stage.model_validate({"name": "a"})
    with pytest.raises(ValidationError, match="at least one weight"):
        Stage.model_validate({"name": "a", "weights": []})


@pytest.mark.parametrize(
    ("gate", "needle"),
    [
        ({"kind": "proportion", "events": "e", "max": 0.1}, "missing total"),
        ({"kind": "value", "query": "q", "events": "e", "max": 1}, "does not apply"),
        ({"kind": "value", "query": "q"}, "needs a bound"),
        ({"kind": "proportion", "events": "e", "total": "t", "max": 2}, "fraction between 0 and 1"),
        ({"kind": "bogus", "query": "q", "max": 1}, "Input should be"),
    ],
)
def test_gate_shape(gate: dict[str, Any], needle: str) -> None:
    data = plan(gates=[{"name": "g", **gate}], stages=[{"name": "full", "weight": 100}])
    assert any(needle in msg for _, msg in errors(data))


def test_gate_source_must_exist() -> None:
    gates = [{"name": "g", "kind": "value", "query": "q", "max": 1, "source": "prom"}]
    [(loc, msg)] = errors(plan(gates=gates))
    assert loc == ("gates", 0, "source") and "unknown source 'prom'" in msg


def test_unknown_key_forbidden() -> None:
    locs = [loc for loc, _ in errors(plan(extra_thing=1))]
    assert ("extra_thing",) in locs


def test_names_are_slugs() -> None:
    assert slug_ok("support-bot.v2_1")
    assert not slug_ok("Support Bot")
    assert any(loc == ("name",) for loc, _ in errors(plan(name="Has Spaces")))


# -- strictness: what lax parsing would let through, refused by the model itself ------------


@pytest.mark.parametrize("bound", ["max_ratio", "min_ratio", "max", "max_increase"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_gate_bounds_are_finite(bound: str, value: float) -> None:
    gate = {**BASE["gates"][0], bound: value}
    if bound != "max_ratio":
        gate.pop("max_ratio")
    [(loc, msg)] = errors(plan(gates=[gate]))
    assert loc[-1] == bound and "finite" in msg


def test_sensible_upper_bounds() -> None:
    too_big = [
        ({"gates": [{**BASE["gates"][0], "max_ratio": 1e9}]}, ("gates", 0, "max_ratio")),
        ({"analysis": {"max_extensions": 10**6}}, ("analysis", "max_extensions")),
        ({"analysis": {"failure_limit": 10**6}}, ("analysis", "failure_limit")),
        (
            {"stages": [{"name": "full", "weight": 100, "min_requests": 10**13}]},
            ("stages", 0, "min_requests"),
        ),
    ]
    for change, where in too_big:
        [(loc, msg)] = errors(plan(**change))
        assert loc == where and "less than or equal" in msg


def test_string_size_limits() -> None:
    [(loc, msg)] = errors(plan(description="x" * 5000))
    assert loc == ("description",) and "at most 4096" in msg
    variants = {"baseline": {"model": "m" * 300}, "candidate": {"model": "b"}}
    [(loc, _)] = errors(plan(variants=variants))
    assert loc == ("variants", "baseline", "model")


def test_env_and_prompt_root_say_how_the_file_is_read_not_what_it_does() -> None:
    spec = PlanSpec.model_validate(plan(env=["REGION"], prompt_root=".."))
    assert spec.env == ["REGION"] and spec.prompt_root == ".."
    dumped = spec.model_dump(by_alias=True)
    assert "env" not in dumped and "prompt_root" not in dumped  # not in the plan hash or state
    [(loc, _)] = errors(plan(env=["not a name"]))
    assert loc == ("env", 0)
