"""State-store faults: `rollout abort` still restores the baseline, and `apply` rides out a blip.

Each case puts a rollout at 5 % (an in-process `apply --until pilot` on a FakeClock, through a
routes file or an http gateway on 127.0.0.1), breaks the store for real, then runs `rollout abort`
as a real process:

* SQLite read-only: the store's directory seen through a read-only bind mount (`mount -o
  remount,bind,ro`: chmod means nothing to root, and this is what a read-only volume is);
* SQLite locked: another process holds `BEGIN EXCLUSIVE` on the database for the whole case;
* SQLite corrupt: the file's first 4 KiB overwritten with garbage;
* SQLite full: the store on a 512 KiB tmpfs filled to the last block;
* PostgreSQL stopped: the real server shut down.

Without `--plan`, abort restores the router from the stored plan when the store can be read
(exit 7: restored, not recorded) and otherwise stops loudly (exit 1) naming `--plan`, with the
router untouched; with `--plan` it always restores and verifies the baseline first (exit 7, and
the "ABORT NOT RECORDED" message says traffic is at the baseline). Once the store is back, a
plain `abort` records it (exit 0).

And a PostgreSQL server stopped for 3 s mid-bake: a running `apply` moves nothing meanwhile and
completes (exit 0).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rollout.cli import main
from rollout.clock import FakeClock
from tests.helpers import procs
from tests.helpers.gateway import Gateway, router_yaml

pytestmark = pytest.mark.slow

NAME = "sf"


def plan_text(router: str, bake: str = "1s") -> str:
    return f"""\
apiVersion: rollout/v1
kind: Plan
name: {NAME}
variants:
  baseline:  {{model: gpt-4o}}
  candidate: {{model: gpt-4.1}}
router: {router}
metrics: {{type: simulated, seed: 3, requests_per_second: 1000}}
gates:
  - name: errors
    kind: proportion
    events: errors{{variant="{{{{ variant }}}}"}}
    total: requests{{variant="{{{{ variant }}}}"}}
    max: 0.9
stages:
  - {{name: pilot, weight: 5, bake: {bake}}}
  - {{name: full, weight: 100, bake: 1s}}
analysis: {{interval: 1s, method: threshold}}
"""


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    from tests.helpers import pg as pg_helper

    server = pg_helper.launch()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    yield gw
    gw.close()


def _mount(*args: str) -> None:
    r = subprocess.run(["mount", *args], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"mount {' '.join(args)} is not permitted here: {r.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@dataclass
class Case:
    """A broken store: the URL abort is given, whether abort can still read the stored plan,
    and how to mend it."""

    url: str
    readable: bool
    mend: Callable[[], str]  # -> the URL of the mended store


@dataclass
class Router:
    kind: str
    yaml: str
    candidate: Callable[[], int | None]


@pytest.fixture(params=["file", "http"])
def router(request: pytest.FixtureRequest, tmp_path: Path) -> Router:
    if request.param == "file":
        path = tmp_path / "routes.json"
        return Router("file", "{type: file, path: routes.json}", lambda: procs.candidate(path))
    gw: Gateway = request.getfixturevalue("gateway")
    gw.weights = {"baseline": 100, "candidate": 0}
    return Router("http", router_yaml(gw.base, retries=1), lambda: gw.candidate)


def _at_pilot(tmp_path: Path, router: Router, url: str) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text(router.yaml))
    code = main(["apply", str(plan), "--until", "pilot", "--state", url], clock=FakeClock())
    assert code == 0
    assert router.candidate() == 5
    return plan


@contextlib.contextmanager
def broken(kind: str, tmp_path: Path, router: Router, request: Any) -> Iterator[tuple[Case, Path]]:
    """Yield (case, plan file) with the store broken; mend it on the way out."""
    st = tmp_path / "st"
    st.mkdir()
    url = f"sqlite:///{st / 'state.db'}"
    if kind == "read-only":
        plan = _at_pilot(tmp_path, router, url)
        ro = tmp_path / "ro"
        ro.mkdir()
        _mount("--bind", str(st), str(ro))
        try:
            _mount("-o", "remount,bind,ro", str(ro))
            with pytest.raises(OSError):
                (ro / "probe").write_text("x")  # really read-only, for root too
            yield Case(f"sqlite:///{ro / 'state.db'}", False, lambda: url), plan
        finally:
            _umount(ro)
    elif kind == "locked":
        plan = _at_pilot(tmp_path, router, url)
        code = (
            "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(st / 'state.db')!r}, isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n"
        )
        holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"

            def unlock() -> str:
                holder.kill()
                holder.wait()
                return url

            yield Case(url, True, unlock), plan
        finally:
            holder.kill()
            holder.wait()
    elif kind == "corrupt":
        plan = _at_pilot(tmp_path, router, url)
        db = st / "state.db"
        good = db.read_bytes()
        with db.open("r+b") as f:
            f.write(b"\xde\xad\xbe\xef" * 1024)

        def mend() -> str:
            db.write_bytes(good)  # restored from "backup"
            return url

        yield Case(url, False, mend), plan
    elif kind == "full":
        _mount("-t", "tmpfs", "-o", "size=512k", "tmpfs", str(st))
        try:
            plan = _at_pilot(tmp_path, router, url)
            fill = st / "fill"
            with contextlib.suppress(OSError), fill.open("wb") as out:
                while True:
                    out.write(b"\0" * 4096)
                    out.flush()

            def unfill() -> str:
                fill.unlink()
                return url

            yield Case(url, False, unfill), plan
        finally:
            _umount(st)
    elif kind == "postgres-stopped":
        server = request.getfixturevalue("pg")
        pg_url: str = server.create_db()
        plan = _at_pilot(tmp_path, router, pg_url)
        server.down()
        try:
            yield Case(pg_url, False, lambda: (server.up(), pg_url)[-1]), plan
        finally:
            if server.proc is None or server.proc.poll() is not None:
                server.up()
    else:  # pragma: no cover
        raise AssertionError(kind)


KINDS = [
    "read-only",
    "locked",
    "corrupt",
    "full",
    pytest.param("postgres-stopped", marks=pytest.mark.postgres),
]


@pytest.mark.parametrize("kind", KINDS)
def test_abort_restores_the_baseline_with_the_store_broken(
    kind: str, tmp_path: Path, router: Router, request: pytest.FixtureRequest
) -> None:
    with broken(kind, tmp_path, router, request) as (case, plan):
        bare = procs.run(tmp_path, "abort", NAME, "--reason", kind, state=case.url)
        if case.readable:  # the router settings still come from the stored plan
            assert bare.returncode == 7, bare.stdout + bare.stderr
            assert router.candidate() == 0
        else:
            assert bare.returncode == 1, bare.stdout + bare.stderr
            assert f"rollout abort {NAME} --plan" in bare.stderr  # says the way out
            assert router.candidate() == 5  # nothing half-done
        r = procs.run(tmp_path, "abort", NAME, "--plan", str(plan), state=case.url)
        assert r.returncode == 7, r.stdout + r.stderr
        assert router.candidate() == 0  # restored and verified, store or no store
        assert "ABORT NOT RECORDED" in r.stderr
        assert "traffic is at the baseline" in r.stderr
        assert f"rollout abort {NAME}" in r.stderr  # how it will be recorded
        mended = case.mend()
        again = procs.run(tmp_path, "abort", NAME, state=mended)
        assert again.returncode == 0, again.stdout + again.stderr  # now recorded
        assert router.candidate() == 0
        assert procs.status(tmp_path, NAME, mended)["phase"] == "aborted"


def _verdicts(cwd: Path, url: str) -> int:
    r = procs.run(cwd, "history", NAME, "--limit", "0", "-o", "json", state=url)
    if r.returncode != 0:
        return 0  # not created yet
    return sum(e["kind"] == "verdict" for e in json.loads(r.stdout)["events"])


@pytest.mark.postgres
def test_postgres_down_for_3s_mid_bake_apply_carries_on(tmp_path: Path, pg: Any) -> None:
    url = pg.create_db()
    (tmp_path / "plan.yaml").write_text(plan_text("{type: file, path: routes.json}", bake="10s"))
    routes = tmp_path / "routes.json"
    apply = procs.start(tmp_path, "apply", "plan.yaml", state=url)
    try:
        procs.wait_for(
            lambda: apply.poll() is not None or _verdicts(tmp_path, url) > 0,
            timeout=90,
            what="a verdict in the pilot bake",
        )
        assert apply.poll() is None and procs.candidate(routes) == 5
        pg.down()
        down = time.monotonic()
        seen = set()
        while time.monotonic() - down < 3.0:  # what the router serves while nothing records
            seen.add(procs.candidate(routes))
            time.sleep(0.05)
        pg.up()
        assert seen == {5}  # nothing moved while the store was down
        out, err = apply.communicate(timeout=120)
    finally:
        if apply.poll() is None:
            apply.kill()
            apply.communicate()
    assert apply.returncode == 0, out + err
    assert "state store unavailable" in out + err  # it noticed, and retried
    assert procs.candidate(routes) == 100
    events = procs.history(tmp_path, NAME, url)
    shifts = [e["data"]["weights"]["candidate"] for e in events if e["kind"] == "weights"]
    assert shifts == [5, 100]
    assert events[-1]["data"].get("phase") == "completed"
