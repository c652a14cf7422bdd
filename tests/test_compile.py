from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout.compile import compile_plan, fingerprint, min_total_seconds, steps_of
from rollout.loading import load
from rollout.spec import PlanSpec

GATES = ["error-rate", "latency", "cost"]


def _gate(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "value",
        "query": f'{name}{{variant="{{{{ variant }}}}"}}',
        "max": 1.0,
    }


@st.composite
def valid_plans(draw: st.DrawFn) -> dict[str, Any]:
    """Any valid plan: strictly rising weights ending at 100, bakes >= interval, known gates."""
    inner = draw(st.lists(st.integers(1, 99), max_size=12, unique=True).map(sorted))
    weights = [*inner, 100]
    # split the weights into stages of one or more consecutive weights
    cuts = (
        sorted(draw(st.sets(st.integers(1, len(weights) - 1), max_size=len(weights) - 1)))
        if len(weights) > 1
        else []
    )
    groups = [weights[a:b] for a, b in zip([0, *cuts], [*cuts, len(weights)], strict=True)]
    interval = draw(st.sampled_from([5, 30, 60]))
    gates = draw(st.lists(st.sampled_from(GATES), unique=True, max_size=3))
    stages = []
    for i, ws in enumerate(groups):
        stage: dict[str, Any] = {"name": f"s{i}"}
        if len(ws) == 1 and draw(st.booleans()):
            stage["weight"] = ws[0]
        else:
            stage["weights"] = ws
        stage["bake"] = draw(st.sampled_from([0, interval, interval * 3, f"{interval * 10}s"]))
        if draw(st.booleans()):
            stage["approval"] = True
        if gates and draw(st.booleans()):
            stage["gates"] = draw(st.lists(st.sampled_from(gates), unique=True, min_size=1))
        stages.append(stage)
    return {
        "apiVersion": "rollout/v1",
        "kind": "Plan",
        "name": draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)),
        "variants": {
            "baseline": {
                "model": "gpt-4o",
                "model_version": "2024-08-06",
                "params": {"temperature": 0.0},
            },
            "candidate": {
                "model": "gpt-4.1",
                "params": draw(
                    st.dictionaries(
                        st.sampled_from(["temperature", "top_p"]), st.floats(0, 1), max_size=2
                    )
                ),
            },
        },
        "router": {"type": "file", "path": "routes.json"},
        "metrics": {"type": "simulated", "seed": draw(st.integers(0, 9))},
        "gates": [_gate(g) for g in gates],
        "stages": stages,
        "analysis": {
            "interval": interval,
            "method": draw(st.sampled_from(["sequential", "threshold"])),
        },
    }


def reordered(obj: Any, rng: random.Random) -> Any:
    """The same document with every mapping's keys in a shuffled order."""
    if isinstance(obj, dict):
        items = list(obj.items())
        rng.shuffle(items)
        return {k: reordered(v, rng) for k, v in items}
    if isinstance(obj, list):
        return [reordered(v, rng) for v in obj]
    return obj


DIGESTS = {"baseline": "a" * 64, "candidate": "b" * 64}


@pytest.mark.slow  # over a second: hypothesis over many plans
@settings(max_examples=200, deadline=None)
@given(data=valid_plans(), seed=st.integers(0, 2**32))
def test_valid_plans_compile_to_rising_weights_and_stable_hash(
    data: dict[str, Any], seed: int
) -> None:
    plan = compile_plan(PlanSpec.model_validate(data), DIGESTS)
    kinds = [s.kind for s in plan.steps]
    assert kinds[0] == "preflight" and kinds[-1] == "promote" and plan.steps[-1].weight == 100
    weights = [s.weight for s in plan.steps if s.kind == "set_weight"]
    assert weights == sorted(set(weights)) and weights[-1] == 100  # strictly rising, to 100
    for prev, step in zip(plan.steps, plan.steps[1:], strict=False):
        if step.kind == "analyze":  # analysis runs at the weight just set
            assert prev.kind in ("set_weight",) and prev.weight == step.weight
            assert step.duration and step.interval and step.duration >= step.interval
    assert min_total_seconds(plan) == sum(
        s.duration or 0 for s in plan.steps if s.kind == "analyze"
    )
    # key order does not matter
    shuffled = reordered(copy.deepcopy(data), random.Random(seed))
    assert compile_plan(PlanSpec.model_validate(shuffled), DIGESTS).plan_hash == plan.plan_hash


@pytest.mark.slow  # over a second: hypothesis over many plans
@settings(max_examples=100, deadline=None)
@given(data=valid_plans(), other=st.lists(st.integers(1, 99), max_size=12, unique=True).map(sorted))
def test_hash_changes_with_weights(data: dict[str, Any], other: list[int]) -> None:
    before = compile_plan(PlanSpec.model_validate(data), DIGESTS)
    old = [s.weight for s in before.steps if s.kind == "set_weight"]
    new = [*other, 100]
    changed = copy.deepcopy(data)
    changed["stages"] = [{"name": f"n{i}", "weight": w} for i, w in enumerate(new)]
    renamed_only = copy.deepcopy(data)
    renamed_only["stages"] = [{"name": f"n{i}", "weight": w} for i, w in enumerate(old)]
    a = compile_plan(PlanSpec.model_validate(changed), DIGESTS).plan_hash
    b = compile_plan(PlanSpec.model_validate(renamed_only), DIGESTS).plan_hash
    assert (a == b) == (new == old)


@given(data=valid_plans())
@settings(max_examples=50, deadline=None)
def test_hash_and_fingerprint_follow_prompt_content(data: dict[str, Any]) -> None:
    spec = PlanSpec.model_validate(data)
    one = compile_plan(spec, DIGESTS)
    two = compile_plan(spec, {**DIGESTS, "candidate": "c" * 64})
    assert one.plan_hash != two.plan_hash
    assert one.fingerprints["baseline"] == two.fingerprints["baseline"]
    assert one.fingerprints["candidate"] != two.fingerprints["candidate"]


def test_fingerprint_covers_model_version_params_and_prompt() -> None:
    v = {"model": "m", "model_version": "1", "params": {"t": 0.1}, "target": "x"}
    base = fingerprint(v, "p")
    assert fingerprint({**v, "target": "elsewhere"}, "p") == base  # routing name is not behaviour
    assert fingerprint({**v, "params": {"t": 0.1}}, "p") == base
    for changed in ({**v, "model": "n"}, {**v, "model_version": "2"}, {**v, "params": {"t": 0.2}}):
        assert fingerprint(changed, "p") != base
    assert fingerprint(v, "q") != base and fingerprint(v, None) != base


def test_steps_for_a_small_plan() -> None:
    spec = PlanSpec.model_validate(
        {
            "apiVersion": "rollout/v1",
            "kind": "Plan",
            "name": "x",
            "variants": {"baseline": {"model": "a"}, "candidate": {"model": "b"}},
            "router": {"type": "file", "path": "r"},
            "metrics": {"type": "simulated"},
            "gates": [_gate("error-rate"), _gate("latency")],
            "stages": [
                {
                    "name": "pilot",
                    "weight": 5,
                    "bake": "10m",
                    "gates": ["latency"],
                    "min_requests": 100,
                },
                {"name": "more", "weights": [50, 100], "bake": "1h", "approval": True},
            ],
        }
    )
    assert [s.describe() for s in steps_of(spec)] == [
        "preflight",
        "set_weight 5",
        "analyze 600s every 60s gates [latency]",
        "approval more",
        "set_weight 50",
        "analyze 3600s every 60s gates [error-rate, latency]",
        "set_weight 100",
        "analyze 3600s every 60s gates [error-rate, latency]",
        "promote",
    ]
    plan = compile_plan(spec)
    assert plan.steps[2].min_requests == 100
    assert min_total_seconds(plan) == 600 + 3600 * 2


PLAN_YAML = """\
apiVersion: rollout/v1
kind: Plan
name: text-hash
variants:
  baseline: {model: a, prompt: p1.md}
  candidate: {model: b, prompt: p2.md}
router: {type: file, path: r.json}
metrics: {type: simulated}
stages:
  - {name: pilot, weight: 10, bake: 1m}
  - {name: full, weight: 100}
"""

SAME_MEANING = """\
# comments, key order, flow vs block style and whitespace do not change the meaning
kind: Plan
apiVersion: rollout/v1
name: text-hash
metrics:
  type: simulated     # a comment
router: {path: r.json, type: file}
variants:
  candidate: {prompt: p2.md, model: b}
  baseline:
    prompt: p1.md
    model: a

stages:
  - bake: 60s
    weight: 10
    name: pilot
  - {weight: 100, name: full}
"""


def test_hash_ignores_text_but_follows_meaning(tmp_path: Path) -> None:
    (tmp_path / "p1.md").write_text("one")
    (tmp_path / "p2.md").write_text("two")
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(PLAN_YAML)
    b.write_text(SAME_MEANING)
    ha = load(a, env={}).plan.plan_hash
    assert load(b, env={}).plan.plan_hash == ha
    b.write_text(SAME_MEANING.replace("weight: 10\n", "weight: 20\n"))
    assert load(b, env={}).plan.plan_hash != ha
    (tmp_path / "p2.md").write_text("two, edited")
    assert load(a, env={}).plan.plan_hash != ha
