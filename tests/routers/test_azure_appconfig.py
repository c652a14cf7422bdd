"""Router azure-appconfig against the fake App Configuration store (tests/fakes/appconfig.py),
through the real azure-appconfiguration SDK (a requests session with the fake mounted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rollout import registry
from rollout.errors import ProviderError
from rollout.records import Weights
from rollout.testing.routers import Harness, RouterConformance
from tests.fakes.appconfig import FF_CONTENT_TYPE, FakeAppConfig, assigned, sdk_session
from tests.fakes.arm import FakeCredential

ENDPOINT = "https://my-store.azconfig.io"
FLAG = "support-bot-model"
VARIANTS = {
    "baseline": {"model": "gpt-4o", "model_version": "2024-08-06", "target": "gpt4o"},
    "candidate": {"model": "gpt-4.1", "model_version": "2025-04-14", "target": "gpt41"},
}


def existing_flag(**alloc: Any) -> dict[str, Any]:
    return {
        "id": FLAG,
        "description": "which model serves support",
        "enabled": True,
        "conditions": {"client_filters": []},
        "variants": [
            {"name": "gpt4o", "configuration_value": {"deployment": "gpt4o-support"}},
            {"name": "gpt41", "configuration_value": {"deployment": "gpt41-support"}},
        ],
        "allocation": {
            "percentile": [{"variant": "gpt4o", "from": 0, "to": 100}],
            "default_when_enabled": "gpt4o",
            **alloc,
        },
        "telemetry": {"enabled": True},
    }


def make(
    store: FakeAppConfig | None = None,
    sleeps: list[float] | None = None,
    label: str | None = "prod",
    handler: Any = None,
    **opts: Any,
) -> tuple[Any, FakeAppConfig, FakeCredential]:
    if store is None:
        store = FakeAppConfig()
        store.put_flag(FLAG, existing_flag(), label=label)
    cred = FakeCredential()
    slept = sleeps if sleeps is not None else []
    session = sdk_session(store)
    if handler is not None:
        session.adapters["https://"].handle = handler
    ctx = registry.BuildContext(
        plan_dir=Path("."),
        variants=VARIANTS,
        plan_name="support-bot",
        extra={"azure_credential": cred, "requests_session": session, "sleep": slept.append},
    )
    spec: dict[str, Any] = {"type": "azure-appconfig", "endpoint": ENDPOINT, "flag": FLAG, **opts}
    if label is not None:
        spec["label"] = label
    return registry.build("router", spec, ctx), store, cred


class TestAppConfigConformance(RouterConformance):
    @pytest.fixture
    def harness(self) -> Harness:
        router, store, _ = make()

        def serve(n: int) -> dict[str, int]:
            # What the app serves: Microsoft's featuremanagement evaluating the stored flag.
            import featuremanagement

            flag = store.flag(FLAG, "prod")
            manager = featuremanagement.FeatureManager(
                {"feature_management": {"feature_flags": [flag]}}
            )
            names = {"gpt4o": "baseline", "gpt41": "candidate"}
            counts = {"baseline": 0, "candidate": 0}
            for i in range(n):
                v = manager.get_variant(FLAG, f"user-{i}")
                counts[names[v.name if v else "gpt4o"]] += 1
            return counts

        return Harness(
            router=router,
            fail=lambda: setattr(store, "down", 503),
            recover=lambda: setattr(store, "down", None),
            mentions=FLAG,
            serve=serve,
            requests=10_000,
        )


def test_set_weights_writes_percentiles_in_the_feature_management_schema() -> None:
    router, store, cred = make()
    router.set_weights(Weights.of(10))
    _, path, query, body = next(c for c in store.calls if c[0] == "PUT")
    assert path == "/kv/.appconfig.featureflag%2Fsupport-bot-model"  # the key is one path segment
    assert query == {"api-version": "2026-04-01", "label": "prod"}  # the SDK's version
    assert body["content_type"] == FF_CONTENT_TYPE
    flag = json.loads(body["value"])  # double-encoded: the flag is a JSON string
    assert flag["allocation"]["percentile"] == [
        {"variant": "gpt4o", "from": 0, "to": 90},
        {"variant": "gpt41", "from": 90, "to": 100},
    ]
    assert flag["allocation"]["seed"] == "support-bot"  # absent before: set to the rollout name
    # Everything the user wrote is kept.
    assert flag["description"] == "which model serves support"
    assert flag["variants"][1]["configuration_value"] == {"deployment": "gpt41-support"}
    assert flag["telemetry"] == {"enabled": True}
    assert router.get_weights() == Weights.of(10)
    # The SDK's audience for *.azconfig.io (reference §4.3).
    assert set(cred.scopes) == {("https://azconfig.io/.default",)}


def test_seed_is_kept_and_users_stay_on_the_candidate_as_it_grows() -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, existing_flag(seed="team-seed-1"), label="prod")
    router, _, _ = make(store)
    users = [f"user-{i}" for i in range(2000)]
    on_candidate: list[set[str]] = []
    for c in (5, 25, 50):
        router.set_weights(Weights.of(c))
        flag = store.flag(FLAG, "prod")
        assert flag["allocation"]["seed"] == "team-seed-1"
        on_candidate.append({u for u in users if assigned(flag, u) == "gpt41"})
    # Sticky: nobody who got the candidate is moved back while the candidate's share grows.
    assert on_candidate[0] <= on_candidate[1] <= on_candidate[2]
    # And the shares are what the library computes (binomial noise on 2000 users).
    assert [round(len(s) / len(users) * 100) for s in on_candidate] == pytest.approx(
        [5, 25, 50], abs=3
    )


def test_unchanged_weights_do_not_write() -> None:
    router, store, _ = make()
    router.set_weights(Weights.of(5))
    router.set_weights(Weights.of(5))
    assert store.writes() == 1


def test_412_is_retried_with_a_fresh_etag() -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, existing_flag(), label="prod")
    edited: list[int] = []

    def handler(method: str, url: str, headers: dict[str, str], raw: bytes | None) -> Any:
        if method == "PUT" and not edited:
            edited.append(1)
            store.concurrent_edit(FLAG, "prod")  # someone else saves the flag meanwhile
        return store.handle(method, url, headers, raw)

    router, _, _ = make(store, handler=handler)
    router.set_weights(Weights.of(25))
    assert [c[0] for c in store.calls] == ["GET", "PUT", "GET", "PUT"]
    assert store.flag(FLAG, "prod")["allocation"]["percentile"][1] == {
        "variant": "gpt41",
        "from": 75,
        "to": 100,
    }


def test_throttled_read_succeeds_after_retry_after() -> None:
    sleeps: list[float] = []
    router, store, _ = make(sleeps=sleeps)
    store.inject("GET", 429, {"retry-after-ms": "1500"})
    assert router.get_weights() == Weights.all_baseline()
    assert sleeps == [1.5]


def test_missing_flag_is_an_error_unless_create() -> None:
    router, _, _ = make(FakeAppConfig())
    with pytest.raises(
        ProviderError, match=r"feature flag 'support-bot-model' .*not found.*create: true"
    ):
        router.set_weights(Weights.of(5))


def test_create_makes_a_flag_with_both_variants() -> None:
    router, store, _ = make(FakeAppConfig(), create=True, label=None)
    assert router.get_weights() == Weights.all_baseline()
    router.set_weights(Weights.of(5))
    flag = store.flag(FLAG)
    assert flag["enabled"] is True
    assert [v["name"] for v in flag["variants"]] == ["gpt4o", "gpt41"]
    assert flag["variants"][1]["configuration_value"] == {
        "model": "gpt-4.1",
        "model_version": "2025-04-14",
        "target": "gpt41",
    }
    assert flag["allocation"]["default_when_enabled"] == "gpt4o"
    assert router.get_weights() == Weights.of(5)
    put = next(c for c in store.calls if c[0] == "PUT")
    assert "label" not in put[2]


def test_disabled_flag_reads_as_default_when_disabled_and_set_enables_it() -> None:
    store = FakeAppConfig()
    flag = existing_flag(default_when_disabled="gpt4o")
    flag["enabled"] = False
    flag["allocation"]["percentile"] = [
        {"variant": "gpt4o", "from": 0, "to": 50},
        {"variant": "gpt41", "from": 50, "to": 100},
    ]
    store.put_flag(FLAG, flag, label="prod")
    router, _, _ = make(store)
    assert (
        router.get_weights() == Weights.all_baseline()
    )  # the library ignores percentiles when disabled
    router.set_weights(Weights.of(50))
    assert store.flag(FLAG, "prod")["enabled"] is True
    assert router.get_weights() == Weights.of(50)


def test_foreign_variant_with_a_share_is_refused() -> None:
    store = FakeAppConfig()
    flag = existing_flag()
    flag["allocation"]["percentile"] = [
        {"variant": "gpt4o", "from": 0, "to": 80},
        {"variant": "mystery", "from": 80, "to": 100},
    ]
    store.put_flag(FLAG, flag, label="prod")
    router, _, _ = make(store)
    with pytest.raises(ProviderError, match="20% to variant 'mystery'"):
        router.get_weights()


def test_uncovered_percentiles_go_to_default_when_enabled() -> None:
    store = FakeAppConfig()
    store.put_flag(
        FLAG,
        existing_flag(
            percentile=[{"variant": "gpt4o", "from": 0, "to": 70}], default_when_enabled="gpt41"
        ),
        label="prod",
    )
    router, _, _ = make(store)
    assert router.get_weights() == Weights.of(30)


def test_error_body_reaches_the_user() -> None:
    router, store, _ = make()
    store.inject("PUT", 403)
    with pytest.raises(ProviderError) as err:
        router.set_weights(Weights.of(5))
    assert str(err.value) == (
        "update feature flag 'support-bot-model' (label prod) in https://my-store.azconfig.io: "
        "HTTP 403 Injected: injected failure"
    )


def test_endpoint_must_be_https() -> None:
    from pydantic import ValidationError

    from rollout.routers.azure_appconfig import Config

    with pytest.raises(ValidationError, match="https://"):
        Config.model_validate({"endpoint": "my-store.azconfig.io", "flag": "f"})
