"""APIM serves weights only within a priority group; breakers move traffic (issue 13, point 1).

The fake ARM routes requests as the APIM gateway does (tests/fakes/arm.py `route`), so these
tests check the router against what the pool would actually serve, not just what it stores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout import fencing, registry
from rollout.errors import Fenced, ProviderError
from rollout.records import Weights
from tests.fakes.arm import FakeArm, FakeCredential

SVC, POOL = "apim-llm", "aoai-pool"
B, C = "aoai-gpt4o", "aoai-gpt41"
VARIANTS = {"baseline": {"target": B}, "candidate": {"target": C}}
BREAKER = {
    "rules": [
        {
            "name": "aoai-429",
            "failureCondition": {
                "count": 3,
                "interval": "PT1M",
                "statusCodeRanges": [{"min": 429, "max": 429}],
            },
            "tripDuration": "PT1M",
            "acceptRetryAfter": True,
        }
    ]
}


def pool(priorities: dict[str, int] | None = None, breaker: bool = False) -> FakeArm:
    arm = FakeArm()
    arm.add_backend(SVC, B, "https://a.openai.azure.com/openai", BREAKER if breaker else None)
    arm.add_backend(SVC, C, "https://b.openai.azure.com/openai", BREAKER if breaker else None)
    arm.add_pool(SVC, POOL, {B: 100, C: 0}, priorities)
    return arm


def router(arm: FakeArm, **opts: Any) -> Any:
    ctx = registry.BuildContext(
        plan_dir=Path("."),
        variants=VARIANTS,
        plan_name="support-bot",
        extra={
            "azure_credential": FakeCredential(),
            "http_transport": httpx.MockTransport(arm.httpx_handler),
            "sleep": lambda s: None,
        },
    )
    spec = {
        "type": "azure-apim",
        "subscription_id": arm.subscription,
        "resource_group": arm.resource_group,
        "service": SVC,
        "pool": POOL,
        **opts,
    }
    return registry.build("router", spec, ctx)


def share(arm: FakeArm, n: int = 20_000) -> float:
    counts = arm.route(SVC, POOL, n, seed=7)
    return counts[C] / n


def within_4_sigma(p_hat: float, p: float, n: int = 20_000) -> bool:
    return abs(p_hat - p) <= 4 * math.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


def test_candidate_in_priority_group_2_is_refused_with_the_reason() -> None:
    arm = pool({B: 1, C: 2})
    r = router(arm)
    with pytest.raises(ProviderError, match=r"candidate backend aoai-gpt41 is in priority group 2"):
        r.set_weights(Weights.of(25))
    assert not [c for c in arm.calls if c.method == "PUT"], "nothing written"
    # What the old code did: write 75/25 and report 25 % while the gateway served 0 %.
    assert share(arm) == 0.0


def test_get_weights_reports_what_split_groups_serve() -> None:
    arm = pool({B: 1, C: 2})
    svcs = arm.backends[arm.backend_id(SVC, POOL)]["properties"]["pool"]["services"]
    svcs[0]["weight"], svcs[1]["weight"] = 75, 25  # someone set weights across two groups
    r = router(arm)
    assert r.get_weights() == Weights.all_baseline()  # not 25 %: group 2 serves nothing
    assert share(arm) == 0.0
    assert any("priority group 2" in c for c in r.causes())


def test_equalize_moves_both_into_the_baseline_group_and_the_split_is_served() -> None:
    arm = pool({B: 1, C: 2})
    r = router(arm, priorities="equalize")
    r.set_weights(Weights.of(25))
    svcs = arm.backends[arm.backend_id(SVC, POOL)]["properties"]["pool"]["services"]
    assert [(s["priority"], s["weight"]) for s in svcs] == [(1, 75), (1, 25)]
    assert r.get_weights() == Weights.of(25)
    assert within_4_sigma(share(arm), 0.25)


@pytest.mark.parametrize("candidate", [0, 5, 25, 50, 100])
def test_served_split_equals_set_split_on_the_gateway(candidate: int) -> None:
    arm = pool()
    r = router(arm)
    r.set_weights(Weights.of(candidate))
    assert r.served() == Weights.of(candidate)
    assert within_4_sigma(share(arm), candidate / 100)


def test_breaker_rules_are_read_and_shown() -> None:
    arm = pool(breaker=True)
    r = router(arm)
    causes = r.causes()
    assert len(causes) == 2
    assert all(
        "circuit breaker aoai-429: trips on 3 failures (status 429-429)" in c for c in causes
    )
    assert "candidate backend aoai-gpt41" in causes[1]


def test_a_tripped_breaker_shifts_traffic_the_weights_do_not_show() -> None:
    # The reason the served split must come from metrics too: ARM shows no trip state.
    arm = pool(breaker=True)
    r = router(arm)
    r.set_weights(Weights.of(25))
    arm.trip(SVC, C)
    assert r.get_weights() == Weights.of(25)
    assert share(arm) == 0.0


def test_every_put_attempt_is_fenced() -> None:
    arm = pool()
    r = router(arm)
    arm.inject("PUT", "/backends/", 429, {"error": {"code": "TooManyRequests", "message": "x"}})
    calls: list[int] = []

    def fence() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Fenced("aborted meanwhile")

    with fencing.fence(fence), pytest.raises(Fenced):
        r.set_weights(Weights.of(25))
    assert len(calls) == 2  # once before the throttled PUT, once before its retry
    assert arm.pool_weights(SVC, POOL) == {B: 100, C: 0}
