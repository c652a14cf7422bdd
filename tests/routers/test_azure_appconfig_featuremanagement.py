"""The flags the azure-appconfig router writes, evaluated by Microsoft's own `featuremanagement`
library (the one an application uses), give the intended split and keep users sticky.

100,000 user ids per weight; the candidate's share must be within 4 standard deviations of the
weight, and nobody on the candidate at one step is moved back at the next. With a pre-existing
50 % Targeting filter the router refuses (the library would serve half the weight), and with
`take_over_filters: true` it clears the filter and the split is right again.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from rollout import registry
from rollout.errors import ProviderError
from rollout.records import Weights
from tests.fakes.appconfig import HOST, FakeAppConfig, sdk_session
from tests.fakes.arm import FakeCredential

featuremanagement = pytest.importorskip("featuremanagement")

FLAG = "support-bot-model"
N = 100_000
WEIGHTS = (5, 25, 50, 100)
USERS = [f"user-{i}" for i in range(N)]
TARGETING_50 = {
    "name": "Microsoft.Targeting",
    "parameters": {"Audience": {"Users": [], "Groups": [], "DefaultRolloutPercentage": 50}},
}


def make(store: FakeAppConfig, **opts: Any) -> Any:
    ctx = registry.BuildContext(
        plan_dir=Path("."),
        variants={"baseline": {"target": "gpt4o"}, "candidate": {"target": "gpt41"}},
        plan_name="support-bot",
        extra={
            "azure_credential": FakeCredential(),
            "requests_session": sdk_session(store),
            "sleep": lambda s: None,
        },
    )
    spec = {"type": "azure-appconfig", "endpoint": f"https://{HOST}", "flag": FLAG, **opts}
    return registry.build("router", spec, ctx)


def on_candidate(store: FakeAppConfig) -> set[str]:
    """The users Microsoft's library puts on the candidate, from the flag as stored."""
    manager = featuremanagement.FeatureManager(
        {"feature_management": {"feature_flags": [store.flag(FLAG)]}}
    )
    return {u for u in USERS if (v := manager.get_variant(FLAG, u)) and v.name == "gpt41"}


def assert_split(users: set[str], weight: int) -> None:
    p = weight / 100
    sigma = math.sqrt(p * (1 - p) / N)
    got = len(users) / N
    assert abs(got - p) <= 4 * sigma + 1e-12, f"{got:.4%} served for {weight} % (sigma {sigma:.4%})"


def existing(filters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": FLAG,
        "enabled": True,
        "conditions": {"client_filters": filters},
        "variants": [{"name": "gpt4o"}, {"name": "gpt41"}],
        "allocation": {"percentile": [{"variant": "gpt4o", "from": 0, "to": 100}]},
    }


def rollout_through(store: FakeAppConfig, router: Any) -> list[float]:
    shares, before = [], set[str]()
    for w in WEIGHTS:
        router.set_weights(Weights.of(w))
        now = on_candidate(store)
        assert_split(now, w)
        assert before <= now, f"{len(before - now)} users moved back to the baseline at {w} %"
        assert router.get_weights() == Weights.of(w)
        shares.append(len(now) / N)
        before = now
    return shares


@pytest.mark.slow
def test_split_and_stickiness_without_filters() -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, existing([]))
    shares = rollout_through(store, make(store))
    print("served", [f"{s:.2%}" for s in shares])


@pytest.mark.slow
def test_pre_existing_targeting_filter_is_refused_and_would_have_halved_the_split() -> None:
    store = FakeAppConfig()
    flag = existing([TARGETING_50])
    flag["allocation"]["percentile"] = [
        {"variant": "gpt4o", "from": 0, "to": 75},
        {"variant": "gpt41", "from": 75, "to": 100},
    ]
    flag["allocation"]["default_when_disabled"] = "gpt4o"
    store.put_flag(FLAG, flag)
    served = len(on_candidate(store)) / N
    assert abs(served - 0.125) < 0.01  # the 12.39 %: half of the 25 % allocation
    router = make(store)
    assert router.get_weights() == Weights.of(12)  # what it serves, not the allocation's 25
    with pytest.raises(ProviderError, match="client filters"):
        router.set_weights(Weights.of(25))


@pytest.mark.slow
def test_split_and_stickiness_after_taking_over_filters() -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, existing([TARGETING_50]))
    shares = rollout_through(store, make(store, take_over_filters=True))
    assert store.flag(FLAG)["conditions"]["client_filters"] == []
    print("served", [f"{s:.2%}" for s in shares])
