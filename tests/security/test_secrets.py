"""Secrets planted everywhere issue #11 found a leak; everything the tool writes is grepped.

Planted: an environment secret a plan tries to read (`{{ env.SECRET }}`), http router headers
from the environment (a Bearer token and a bare API key), a `${HOOK_TOKEN}` query token in the
webhook URL, a literal `?token=` in a webhook URL and a password in a Prometheus URL (both
refused at load), Prometheus `bearer_token_env` and `headers_env`, a header value with a newline
(httpx would quote it), and a PostgreSQL state URL with a password. The stubs (tests/security/
stubs.py) echo credentials back in their error replies, as the gateways that leaked them did.

Paths: success (sqlite and PostgreSQL), a gateway that fails and quotes the headers, a
Prometheus whose `error` field quotes them, refused plans, and a crash (an unexpected exception
whose text carries a token). Then `status`, `history` (text and JSON), `list` and `report`
(markdown and HTML) read it all back. Grepped: every byte under the work folder (SQLite
database and WAL, routes, crash logs, the GitHub step summary, reports), a `pg_dump` of the
PostgreSQL database, and every process's stdout and stderr. Zero hits, and the stubs prove each
secret was really sent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.stubs import Stub

REPO = Path(__file__).resolve().parents[2]

MARKERS = {
    "SECRET": "MARKenv0secret1111",
    "HOOK_TOKEN": "MARKhook2222token",
    "GATEWAY_TOKEN": "MARKgateway3333bearer",
    "GATEWAY_KEY": "MARKgateway4444key",
    "PROM_TOKEN": "MARKprom5555bearer",
    "PROM_KEY": "MARKprom6666key",
}
LITERAL_TOKEN = "MARKliteral7777token"
URL_PASSWORD = "MARKurl8888password"
NEWLINE_SECRET = "MARKnewline9999"
PG_PASSWORD = "MARKpg0000password"
ALL = [*MARKERS.values(), LITERAL_TOKEN, URL_PASSWORD, NEWLINE_SECRET, PG_PASSWORD]

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: {name}
variants:
  baseline: {{model: gpt-4o, target: base}}
  candidate: {{model: gpt-4.1, target: cand}}
router:
  type: http
  set:
    url: "http://127.0.0.1:{port}/routes?token=${{HOOK_TOKEN}}"
    headers: {{Authorization: "Bearer ${{GATEWAY_TOKEN}}", X-Api-Key: "${{GATEWAY_KEY}}"}}
  get:
    url: "http://127.0.0.1:{port}/routes?token=${{HOOK_TOKEN}}"
    headers: {{Authorization: "Bearer ${{GATEWAY_TOKEN}}", X-Api-Key: "${{GATEWAY_KEY}}"}}
    weights_path: {{candidate: c}}
  retries: 0
metrics:
  type: prometheus
  url: http://127.0.0.1:{port}
  bearer_token_env: PROM_TOKEN
  headers_env: {{X-Api-Key: PROM_KEY}}
  retries: 1
gates:
  - name: err
    kind: proportion
    events: 'errors{{v="{{{{ variant }}}}"}}'
    total: 'requests{{v="{{{{ variant }}}}"}}'
    max_ratio: 1.5
stages:
  - {{name: pilot, weight: 5, bake: 2s}}
  - {{name: full, weight: 100}}
analysis: {{interval: 1s, method: threshold, max_extensions: 0}}
"""

CRASH = """\
import os, sys
import rollout.routers.http as http

def boom(self):
    raise RuntimeError("gateway library bug: " + os.environ["GATEWAY_TOKEN"]
                       + " " + os.environ["PROM_KEY"])

http.HttpRouter.get_weights = boom
from rollout.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


class Workdir:
    def __init__(self, root: Path, stub: Stub) -> None:
        self.root = root
        self.stub = stub
        self.outputs: list[str] = []
        self.summary = root / "step-summary.md"

    def env(self, **extra: str) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
        e.update(MARKERS)
        e.update(
            PYTHONPATH=str(REPO),
            GITHUB_STEP_SUMMARY=str(self.summary),
            ROLLOUT_CRASH_LOG=str(self.root / ".rollout" / "crash.log"),
        )
        e.update(extra)
        return e

    def plan(self, name: str, text: str | None = None) -> Path:
        (self.root / "input").mkdir(exist_ok=True)
        p = self.root / "input" / f"{name}.yaml"  # what the test wrote: not grepped
        p.write_text(text or PLAN.format(name=name, port=self.stub.port))
        return p

    def run(self, *args: str, script: str | None = None, **env: str) -> int:
        cmd = (
            [sys.executable, "-c", script, *args]
            if script
            else [sys.executable, "-m", "rollout", *args]
        )
        proc = subprocess.run(
            cmd, cwd=self.root, env=self.env(**env), capture_output=True, text=True, timeout=120
        )
        self.outputs += [proc.stdout, proc.stderr]
        return proc.returncode

    def read_back(self, name: str, *state: str) -> None:
        for args in (
            ("status", name),
            ("status", name, "-o", "json"),
            ("history", name, "--all"),
            ("history", name, "--all", "-o", "json"),
            ("list",),
            ("report", name),
            ("report", name, "--format", "html"),
        ):
            assert self.run(*args, *state) == 0, self.outputs[-1]

    def written(self) -> Iterator[tuple[str, bytes]]:
        for p in sorted(self.root.rglob("*")):
            if p.is_file() and p.parent.name != "input":
                yield str(p), p.read_bytes()
        for i, text in enumerate(self.outputs):
            yield f"process output {i}", text.encode()


def hits(where: Iterator[tuple[str, bytes]]) -> list[str]:
    return [
        f"{marker} in {name}" for name, data in where for marker in ALL if marker.encode() in data
    ]


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Workdir]:
    with Stub() as stub:
        yield Workdir(tmp_path, stub)


def _exercise(w: Workdir, *state: str) -> None:
    stub = w.stub
    # success: the whole rollout through the gateway, gated on Prometheus
    stub.mode = "ok"
    assert w.run("apply", str(w.plan("good")), *state) == 0, w.outputs[-1]
    w.read_back("good", *state)
    # a gateway that fails the shift and quotes the credentials it was sent
    stub.mode, stub.candidate = "fail-put", 0
    assert w.run("apply", str(w.plan("gateway-fails")), *state) == 1, w.outputs[-1]
    assert "***" in w.outputs[-1]  # the echo arrived and was masked
    w.read_back("gateway-fails", *state)
    # a Prometheus whose own `error` field quotes the credentials: no data, paused (exit 5)
    stub.mode, stub.candidate = "fail-prometheus", 0
    assert w.run("apply", str(w.plan("prometheus-fails")), *state) == 5, w.outputs[-1]
    w.read_back("prometheus-fails", *state)
    # a crash: an unexpected exception whose message carries two secrets
    stub.mode = "ok"
    assert w.run("apply", str(w.plan("crash")), *state, script=CRASH) == 1
    assert "bug in rollout" in w.outputs[-1] and "***" in w.outputs[-1]
    assert (w.root / ".rollout" / "crash.log").is_file()


def _refused(w: Workdir) -> None:
    """Plans that try to put a secret where it would be stored: exit 2, the secret unshown."""
    base = PLAN.format(name="refused", port=w.stub.port)
    cases = {
        "env": base.replace("name: refused", "name: refused\ndescription: '{{ env.SECRET }}'"),
        "literal-token": base.replace(
            "${{HOOK_TOKEN}}".replace("{{", "{").replace("}}", "}"), LITERAL_TOKEN, 1
        ),
        "url-password": base.replace(
            f"url: http://127.0.0.1:{w.stub.port}\n",
            f"url: http://u:{URL_PASSWORD}@127.0.0.1:{w.stub.port}\n",
        ),
    }
    for name, text in cases.items():
        assert text != base, name
        assert w.run("apply", str(w.plan(f"refused-{name}", text))) == 2, w.outputs[-1]
        assert w.run("validate", str(w.root / "input" / f"refused-{name}.yaml")) == 2
    # a header value with a newline: refused when sent, without being shown (httpx would quote it)
    code = w.run("apply", str(w.plan("newline")), GATEWAY_KEY=f"x\n{NEWLINE_SECRET}")
    assert code == 1 and "control character" in w.outputs[-1], w.outputs[-1]


@pytest.mark.slow
def test_nothing_secret_is_written_with_sqlite(work: Workdir) -> None:
    _exercise(work)
    _refused(work)
    assert (work.root / ".rollout" / "state.db").is_file() and work.summary.is_file()
    seen = " ".join(work.stub.seen_tokens)
    assert MARKERS["GATEWAY_TOKEN"] in seen and MARKERS["PROM_TOKEN"] in seen  # really sent
    found = hits(work.written())
    assert found == [], "\n".join(found)


@pytest.mark.slow
@pytest.mark.postgres
def test_nothing_secret_is_written_with_postgres(work: Workdir, pg_url: str) -> None:
    url = pg_url.replace("postgresql://rollout@", f"postgresql://rollout:{PG_PASSWORD}@")
    _exercise(work, "--state", url)
    # a state URL that cannot connect: libpq's message quotes the host; the password stays out
    bad = url.rsplit("/", 1)[0].replace("127.0.0.1:", "127.0.0.1:1") + "/nope"
    assert work.run("status", "good", "--state", bad) != 0
    dump = subprocess.run(
        [shutil.which("pg_dump") or "pg_dump", "--data-only", pg_url],
        capture_output=True,
        check=True,
    ).stdout
    assert b"good" in dump and b"gateway-fails" in dump  # the dump holds the runs
    assert hits(iter([*work.written(), ("pg_dump", dump)])) == []
