"""examples/azure/plan.yaml end to end on the fake ARM: the plan loads, and its deployments
manager and APIM router, built by the registry from the plan, walk every compiled step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from rollout import registry
from rollout.clock import FakeClock
from rollout.loading import load
from rollout.records import Weights
from tests.deployments.test_azure_openai import Q4O, Q41, RecordingTransport
from tests.fakes.arm import FakeArm, FakeCredential, sdk_session

PLAN = Path(__file__).parents[2] / "examples" / "azure" / "plan.yaml"
ENV = {
    "AZURE_SUBSCRIPTION_ID": "sub-1",
    "AZURE_RESOURCE_GROUP": "rg",
    "AOAI_ACCOUNT": "aoai-prod",
    "APIM_SERVICE": "apim-llm",
}


def test_example_plan_runs_on_the_fake_arm() -> None:
    loaded = load(PLAN, env=ENV)
    arm = FakeArm()
    arm.add_model("gpt-4o", "2024-08-06", "GlobalStandard", Q4O)
    arm.add_model("gpt-4.1", "2025-04-14", "GlobalStandard", Q41)
    arm.quota = {Q4O: 100, Q41: 100}
    arm.add_deployment("aoai-prod", "gpt4o-support", "gpt-4o", "2024-08-06", capacity=50)
    for b in ("aoai-gpt4o", "aoai-gpt41"):
        arm.add_backend("apim-llm", b, "https://x")
    arm.add_pool("apim-llm", "aoai-pool", {"aoai-gpt4o": 100, "aoai-gpt41": 0})
    clock = FakeClock()
    ctx = registry.BuildContext(
        plan_dir=PLAN.parent,
        variants={v: loaded.spec.variants.model_dump()[v] for v in ("baseline", "candidate")},
        plan_name=loaded.spec.name,
        extra={
            "azure_credential": FakeCredential(),
            "http_transport": httpx.MockTransport(arm.httpx_handler),
            "sleep": lambda s: None,
            "azure_transport": RecordingTransport(sdk_session(arm), []),
            "azure_sdk_options": {"polling_interval": 0, "retry_backoff_factor": 0},
            "clock": clock,
        },
    )
    spec: Any = loaded.spec
    router = registry.build("router", {"type": spec.router.type, **spec.router.options()}, ctx)
    dm = registry.build(
        "deployments", {"type": spec.deployments.type, **spec.deployments.options()}, ctx
    )

    weights = [s.weight for s in loaded.plan.steps if s.kind == "set_weight"]
    assert weights == [5, 25, 50, 100]
    out = dm.preflight(Weights.of(weights[0]))
    assert out["candidate"] == "gpt41-support: gpt-4.1 2025-04-14, GlobalStandard x5, created"
    seen = []
    for w in weights:  # what the runner does at each set_weight step
        dm.before_shift(Weights.of(w))
        router.set_weights(Weights.of(w))
        assert router.get_weights() == Weights.of(w)
        seen.append(
            (
                arm.deployments["gpt4o-support"]["sku"]["capacity"],
                arm.deployments["gpt41-support"]["sku"]["capacity"],
            )
        )
    assert seen == [(48, 5), (38, 13), (25, 25), (5, 50)]
    assert arm.pool_weights("apim-llm", "aoai-pool") == {"aoai-gpt4o": 0, "aoai-gpt41": 100}
    # After promote: the old baseline is kept 24 h, then deleted.
    due = dm.finalize()
    assert due is not None and "gpt4o-support" in arm.deployments
    clock.advance(25 * 3600)
    assert dm.finalize() is None
    assert "gpt4o-support" not in arm.deployments
