"""The litellm router against a REAL LiteLLM proxy (PyPI `litellm[proxy]`, pinned in the
`litellm` extra) on 127.0.0.1, with two OpenAI-compatible fake backends (tests/fakes/
openai_backend.py) behind it.

One proxy serves a model group per weight (0, 5, 25, 50, 100 % candidate), each holding the
baseline and candidate deployments with the weights the router writes (its PATCH bodies, taken
from the router run against the fake management API). Through each group 2,000 chat
completions are sent; the backends' counts must be within 4 standard deviations of the weight,
the router must read the weight back (`get_weights`) and report the split served from the
proxy's own Prometheus counters (`served`). Writing needs the proxy's database (which LiteLLM
drives through prisma, whose engines are downloaded at run time: not possible here), so against
the real proxy `set_weights` must fail with LiteLLM's own reason and the fix.

The proxy is found as $ROLLOUT_LITELLM, .venv-litellm/bin/litellm (what .ci/run installs) or
`litellm` on PATH; without it the test skips, unless ROLLOUT_REQUIRE_LITELLM=1 (CI) makes that
a failure.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout import registry
from rollout.errors import ProviderError
from rollout.records import Weights
from tests.fakes.litellm_proxy import FakeLiteLLM
from tests.fakes.openai_backend import OpenAIBackend

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-rollout-test-master"
WEIGHTS = (0, 5, 25, 50, 100)
REQUESTS = 2_000
STARTUP_S = 180.0  # bounded: a proxy that does not come up fails the test


def litellm_cli() -> str | None:
    for candidate in (
        os.environ.get("ROLLOUT_LITELLM"),
        str(ROOT / ".venv-litellm" / "bin" / "litellm"),
        shutil.which("litellm"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def written_weights(candidate: int) -> tuple[float, float]:
    """The (baseline, candidate) weights the router's set_weights writes for this split."""
    fake = FakeLiteLLM()
    fake.add("g", "b", 100)
    fake.add("g", "c", 0)
    router = build_router("http://fake", "g", {"baseline": "b", "candidate": "c"}, fake)
    router.set_weights(Weights.of(candidate))
    return fake.weight("b"), fake.weight("c")


def build_router(
    url: str, group: str, members: dict[str, str], fake: FakeLiteLLM | None = None
) -> Any:
    extra: dict[str, Any] = {"sleep": lambda s: None}
    if fake is not None:
        from tests.fakes.litellm_proxy import MASTER_KEY

        os.environ["ROLLOUT_TEST_LITELLM_KEY"] = MASTER_KEY
        extra["http_transport"] = httpx.MockTransport(fake.handler)
    else:
        os.environ["ROLLOUT_TEST_LITELLM_KEY"] = KEY
    ctx = registry.BuildContext(plan_dir=Path("."), variants={}, plan_name="p", extra=extra)
    spec = {
        "type": "litellm",
        "url": url,
        "model_group": group,
        "api_key_env": "ROLLOUT_TEST_LITELLM_KEY",
        "members": members,
    }
    return registry.build("router", spec, ctx)


def config(base_url: str, cand_url: str) -> str:
    lines = ["model_list:"]
    for c in WEIGHTS:
        wb, wc = written_weights(c)
        for mid, url, w in ((f"b-{c}", base_url, wb), (f"c-{c}", cand_url, wc)):
            lines += [
                f"  - model_name: split-{c}",
                f"    litellm_params: {{model: openai/{mid}, api_base: '{url}', api_key: fake,"
                f" weight: {w}}}",
                f"    model_info: {{id: {mid}}}",
            ]
    lines += [
        "router_settings: {routing_strategy: simple-shuffle, num_retries: 0}",
        'litellm_settings: {callbacks: ["prometheus"], telemetry: false}',
        f"general_settings: {{master_key: {KEY}}}",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    cli = litellm_cli()
    if cli is None:
        if os.environ.get("ROLLOUT_REQUIRE_LITELLM") == "1":
            pytest.fail("ROLLOUT_REQUIRE_LITELLM=1 but no LiteLLM proxy (see .ci/run)")
        pytest.skip("LiteLLM's proxy is not installed (.ci/run installs it in .venv-litellm)")
    tmp = tmp_path_factory.mktemp("litellm")
    with OpenAIBackend("baseline") as base, OpenAIBackend("candidate") as cand:
        cfg = tmp / "config.yaml"
        cfg.write_text(config(base.url, cand.url))
        port = free_port()
        env = {
            **os.environ,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list
            "NO_DOCS": "True",
            "LITELLM_LOG": "ERROR",
        }
        env.pop("DATABASE_URL", None)
        log = (tmp / "proxy.log").open("w")
        proc = subprocess.Popen(
            [cli, "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_S
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the proxy exited: {(tmp / 'proxy.log').read_text()[-2000:]}")
                try:
                    if httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the proxy did not start in {STARTUP_S:.0f} s")
                time.sleep(0.2)  # waiting for a real process to come up
            yield {"url": url, "base": base, "cand": cand}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            log.close()


async def send(url: str, group: str, n: int, concurrency: int = 16) -> list[int]:
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": group, "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(timeout=30) as client:

        async def one() -> int:
            async with gate:
                r = await client.post(f"{url}/v1/chat/completions", headers=headers, json=body)
                return r.status_code

        return await asyncio.gather(*(one() for _ in range(n)))


@pytest.mark.parametrize("candidate", WEIGHTS)
def test_the_real_proxy_serves_the_split_the_router_writes(
    proxy: dict[str, Any], candidate: int
) -> None:
    group = f"split-{candidate}"
    router = build_router(
        proxy["url"], group, {"baseline": f"b-{candidate}", "candidate": f"c-{candidate}"}
    )
    assert router.get_weights() == Weights.of(candidate)
    assert router.served() is None  # nothing sent to this group yet
    before = (proxy["base"].served, proxy["cand"].served)
    statuses = asyncio.run(send(proxy["url"], group, REQUESTS))
    assert statuses.count(200) == REQUESTS, sorted(set(statuses))
    got_b = proxy["base"].served - before[0]
    got_c = proxy["cand"].served - before[1]
    assert got_b + got_c == REQUESTS
    p = candidate / 100
    sigma = math.sqrt(REQUESTS * p * (1 - p))
    assert abs(got_c - REQUESTS * p) <= 4 * sigma, (
        f"{candidate} %: the candidate backend got {got_c} of {REQUESTS} "
        f"(4 sigma = {4 * sigma:.0f})"
    )
    served = router.served()  # from the proxy's own Prometheus counters
    assert served is not None
    assert abs(served.candidate - 100 * got_c / REQUESTS) <= 1  # it counted what was served
    counts = router.request_counts()
    assert counts == {"baseline": got_b, "candidate": got_c}
    print(f"{candidate:3d} %: candidate served {got_c}/{REQUESTS} ({got_c / REQUESTS:.2%})")


def test_writing_to_a_proxy_without_a_database_says_why(proxy: dict[str, Any]) -> None:
    router = build_router(proxy["url"], "split-5", {"baseline": "b-5", "candidate": "c-5"})
    with pytest.raises(ProviderError) as err:
        router.set_weights(Weights.of(25))
    msg = str(err.value)
    assert "DB not connected" in msg and "STORE_MODEL_IN_DB=True" in msg
    assert router.get_weights() == Weights.of(5)  # nothing changed
