"""App Configuration flags that serve what the router says (issue 13, points 2 and 8).

Client filters, Sync-Token, sovereign-cloud audiences, connection strings (HMAC), every stable
api-version, fenced writes - through the real azure-appconfiguration SDK against the fake.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rollout import fencing, registry
from rollout.errors import Fenced, ProviderError
from rollout.records import Weights
from tests.fakes.appconfig import API_VERSIONS, HOST, FakeAppConfig, sdk_session
from tests.fakes.arm import FakeCredential

FLAG = "support-bot-model"
VARIANTS = {"baseline": {"target": "gpt4o"}, "candidate": {"target": "gpt41"}}
TARGETING_50 = {
    "name": "Microsoft.Targeting",
    "parameters": {"Audience": {"Users": [], "Groups": [], "DefaultRolloutPercentage": 50}},
}


def flag(filters: list[dict[str, Any]] | None = None, candidate: int = 25) -> dict[str, Any]:
    return {
        "id": FLAG,
        "enabled": True,
        "conditions": {"client_filters": filters or []},
        "variants": [{"name": "gpt4o"}, {"name": "gpt41"}],
        "allocation": {
            "percentile": [
                {"variant": "gpt4o", "from": 0, "to": 100 - candidate},
                {"variant": "gpt41", "from": 100 - candidate, "to": 100},
            ],
            "default_when_enabled": "gpt4o",
            "default_when_disabled": "gpt4o",
            "seed": "s1",
        },
    }


def make(store: FakeAppConfig, endpoint: str = f"https://{HOST}", **opts: Any) -> Any:
    cred = FakeCredential()
    ctx = registry.BuildContext(
        plan_dir=Path("."),
        variants=VARIANTS,
        plan_name="support-bot",
        extra={
            "azure_credential": cred,
            "requests_session": sdk_session(store),
            "sleep": lambda s: None,
        },
    )
    spec = {"type": "azure-appconfig", "flag": FLAG, **opts}
    if "connection_string_env" not in opts:
        spec["endpoint"] = endpoint
    return registry.build("router", spec, ctx), cred


def test_flag_with_client_filters_is_refused_with_the_reason() -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, flag([TARGETING_50]))
    router, _ = make(store)
    with pytest.raises(ProviderError) as err:
        router.set_weights(Weights.of(25))
    msg = str(err.value)
    assert "client filters (Microsoft.Targeting (50 %))" in msg
    assert "take_over_filters: true" in msg
    assert store.writes() == 0


def test_get_weights_reports_what_a_targeting_filter_serves() -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, flag([TARGETING_50], candidate=25))
    router, _ = make(store)
    # The old router read 25 %; the library serves 50 % x 25 % = 12.5 %.
    assert router.get_weights() == Weights.of(12)
    assert any("client filters" in c for c in router.causes())


def test_unknowable_filters_are_an_error_not_a_guess() -> None:
    store = FakeAppConfig()
    window = {"name": "Microsoft.TimeWindow", "parameters": {"Start": "Mon, 01 Jan 2026"}}
    store.put_flag(FLAG, flag([window]))
    router, _ = make(store)
    with pytest.raises(ProviderError, match="cannot tell the split it serves"):
        router.get_weights()


def test_take_over_filters_clears_them_and_keeps_a_copy_in_a_tag() -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, flag([TARGETING_50]))
    router, _ = make(store, take_over_filters=True)
    router.set_weights(Weights.of(25))
    assert store.flag(FLAG)["conditions"]["client_filters"] == []
    assert json.loads(store.tags(FLAG)["rollout-taken-over-filters"]) == [TARGETING_50]
    assert router.get_weights() == Weights.of(25)


def test_read_after_write_echoes_sync_token_and_is_not_stale() -> None:
    store = FakeAppConfig(replica_lag=True)
    store.put_flag(FLAG, flag(candidate=0))
    router, _ = make(store)
    router.set_weights(Weights.of(25))
    assert router.get_weights() == Weights.of(25)
    last_get = store.headers_seen[-1]
    assert last_get["sync-token"].startswith("zAJw6V16=")
    # The fake does serve stale data to a client that drops the token (what the old one did).
    stale = store.handle(
        "GET",
        f"https://{HOST}/kv/.appconfig.featureflag%2F{FLAG}?api-version=2023-11-01",
        {"Authorization": "Bearer x"},
        None,
    )
    assert json.loads(stale[2]["value"])["allocation"]["percentile"][-1]["from"] == 100


@pytest.mark.parametrize(
    ("endpoint", "audience", "scope"),
    [
        (f"https://{HOST}", None, "https://azconfig.io/.default"),
        ("https://my-store.azconfig.azure.us", None, "https://azconfig.azure.us/.default"),
        ("https://my-store.azconfig.azure.cn", None, "https://azconfig.azure.cn/.default"),
        ("https://my-store.azconfig.azure.us", "https://appconfig.azure.us", None),
    ],
)
def test_sovereign_clouds_get_their_own_audience(
    endpoint: str, audience: str | None, scope: str | None
) -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, flag())
    opts = {"audience": audience} if audience else {}
    router, cred = make(store, endpoint=endpoint, **opts)
    router.get_weights()
    want = scope or f"{audience}/.default"
    assert cred.scopes == [(want,)]
    assert all("management.azure.com" not in s[0] for s in cred.scopes)


def test_connection_string_signs_with_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, flag(candidate=0))
    monkeypatch.setenv("APPCONFIG_CONNECTION_STRING", store.connection_string)
    router, cred = make(store, connection_string_env="APPCONFIG_CONNECTION_STRING")
    router.set_weights(Weights.of(5))
    assert router.get_weights() == Weights.of(5)
    assert cred.scopes == []  # no Entra ID token was asked for
    assert all(h["authorization"].startswith("HMAC-SHA256 ") for h in store.headers_seen)


def test_wrong_secret_is_a_clear_401(monkeypatch: pytest.MonkeyPatch) -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, flag())
    bad = store.connection_string.replace(store.hmac_secret, "d3Jvbmc=")
    monkeypatch.setenv("APPCONFIG_CS", bad)
    router, _ = make(store, connection_string_env="APPCONFIG_CS")
    with pytest.raises(ProviderError, match="HTTP 401 Unauthorized"):
        router.get_weights()


def test_missing_connection_string_env_is_named() -> None:
    store = FakeAppConfig()
    with pytest.raises(ProviderError, match="NO_SUCH_VAR"):
        make(store, connection_string_env="NO_SUCH_VAR")


@pytest.mark.parametrize("version", sorted(API_VERSIONS))
def test_every_stable_api_version_round_trips(version: str) -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, flag(candidate=0))
    router, _ = make(store, api_version=version)
    router.set_weights(Weights.of(50))
    assert router.get_weights() == Weights.of(50)
    assert {c[2]["api-version"] for c in store.calls} == {version}


def test_the_fake_accepts_the_body_the_sdk_sends() -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, flag(candidate=0))
    router, _ = make(store)
    router.set_weights(Weights.of(5))
    put = next(c for c in store.calls if c[0] == "PUT")
    assert {"key", "value", "content_type", "tags"} <= set(put[3])  # KeyValue as the SDK sends it


def test_every_put_attempt_is_fenced() -> None:
    store = FakeAppConfig()
    store.put_flag(FLAG, flag(candidate=0))
    store.inject("PUT", 503)
    router, _ = make(store)
    seen: list[int] = []

    def fence() -> None:
        seen.append(1)
        if len(seen) == 2:
            raise Fenced("paused meanwhile")

    with fencing.fence(fence), pytest.raises(Fenced):
        router.set_weights(Weights.of(25))
    assert len(seen) == 2
    assert (
        store.flag(FLAG)["allocation"]["percentile"]
        == flag(candidate=0)["allocation"]["percentile"]
    )
