"""Races between real `rollout` processes, on SQLite and on a real PostgreSQL server.

* 8 concurrent `apply` of one plan: exactly one runs, the other 7 exit 6 naming its pid.
* `abort` while the http router's gateway answers 429 to a forward shift (the runner retrying):
  the gateway holds the baseline when abort returns, and no candidate write reaches it after.
* `pause` then `promote` with no runner: the next `apply` honours both, in order.
* a runner frozen past its lease TTL (SIGSTOP, so its heartbeat cannot renew either) is taken
  over only after the expiry, and once thawed stops without acting (exit 6).

Waits are generous deadlines on conditions; the one latency figure (abort to baseline at the
gateway) is measured on the monotonic clock, printed, and bounded only very loosely.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import procs
from tests.helpers.gateway import Gateway, router_yaml

pytestmark = pytest.mark.slow

NAME = "race"


def plan_text(
    *,
    router: str = "{type: file, path: routes.json}",
    bake: str = "60s",
    interval: str = "1s",
    approval: bool = False,
    exp_bake: str = "1s",
) -> str:
    return f"""\
apiVersion: rollout/v1
kind: Plan
name: {NAME}
variants:
  baseline:  {{model: gpt-4o}}
  candidate: {{model: gpt-4.1}}
router: {router}
metrics: {{type: simulated, seed: 5, requests_per_second: 500}}
gates:
  - name: errors
    kind: proportion
    events: errors{{variant="{{{{ variant }}}}"}}
    total: requests{{variant="{{{{ variant }}}}"}}
    max: 0.9
stages:
  - {{name: pilot, weight: 5, bake: {bake}}}
  - {{name: expansion, weight: 25, bake: {exp_bake}{", approval: true" if approval else ""}}}
  - {{name: full, weight: 100}}
analysis: {{interval: {interval}, method: threshold}}
"""


@pytest.fixture(scope="module")
def pg() -> Iterator[object]:
    from tests.helpers import pg as pg_helper

    server = pg_helper.launch()
    yield server
    server.stop()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def state(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    server = request.getfixturevalue("pg")
    url: str = server.create_db()
    return url


def _kill(p: subprocess.Popen[str]) -> None:
    if p.poll() is None:
        p.kill()
        p.communicate()


def test_eight_concurrent_applies_one_runs_the_rest_exit_6_naming_it(
    tmp_path: Path, state: str
) -> None:
    (tmp_path / "plan.yaml").write_text(plan_text())
    ps = [procs.start(tmp_path, "apply", "plan.yaml", state=state) for _ in range(8)]
    try:
        procs.wait_for(
            lambda: sum(p.poll() is not None for p in ps) >= 7, timeout=120, what="7 exits"
        )
        time.sleep(1.0)  # a second winner (the bug) would have shown itself by now
        running = [p for p in ps if p.poll() is None]
        assert len(running) == 1, [p.returncode for p in ps]
        winner = running[0]
        done = {p.pid: p.communicate() for p in ps if p is not winner}
        codes = sorted(p.returncode for p in ps if p is not winner)
        assert codes == [6] * 7, {pid: err for pid, (_, err) in done.items()}
        for _, err in done.values():
            assert f"pid {winner.pid}" in err, err  # the message names the holder
        procs.wait_for(lambda: procs.candidate(tmp_path / "routes.json") == 5, what="5 %")
        created = [e for e in procs.history(tmp_path, NAME, state) if e["kind"] == "created"]
        assert len(created) == 1  # one run, created once
        r = procs.run(tmp_path, "abort", NAME, state=state)
        assert r.returncode == 0, r.stderr
        winner.communicate(timeout=60)
        assert winner.returncode == 4
    finally:
        for p in ps:
            _kill(p)


def test_abort_while_the_gateway_answers_429_to_a_forward_shift(tmp_path: Path, state: str) -> None:
    # 429 (Retry-After: 1) to every shift beyond 5 %: the runner keeps retrying the 25 % write.
    gw = Gateway(refuse=lambda current, asked: asked > 5)
    (tmp_path / "plan.yaml").write_text(plan_text(router=router_yaml(gw.base), bake="1s"))
    apply = procs.start(tmp_path, "apply", "plan.yaml", state=state)
    try:
        procs.wait_for(
            lambda: any(p.status == 429 for p in gw.log()), timeout=90, what="a 429 to 25 %"
        )
        assert gw.candidate == 5
        started = time.monotonic()
        r = procs.run(tmp_path, "abort", NAME, "--reason", "429 storm", state=state)
        returned = time.monotonic()
        assert r.returncode == 0, r.stdout + r.stderr
        assert gw.candidate == 0  # the baseline, when abort returns
        base_at = min(p.at for p in gw.log() if p.candidate == 0 and p.status == 200)
        print(
            f"abort process start -> baseline at the gateway: {base_at - started:.2f}s; "
            f"abort exited after {returned - started:.2f}s"
        )
        assert started < base_at < returned  # restored by abort itself, before it returned
        assert base_at - started < 15  # loose: a whole process start on a shared machine
        out, err = apply.communicate(timeout=90)
        assert apply.returncode == 4, out + err
        assert "router write withheld" in out + err  # the fence stopped the retry
        time.sleep(2.0)  # past the gateway's Retry-After: a late retry would arrive now
        late = [p for p in gw.log() if p.at > returned and p.candidate > 0]
        assert late == [], late  # no candidate write reached the gateway after the abort
        assert gw.candidate == 0
        accepted = [p.candidate for p in gw.log() if p.status == 200]
        assert 25 not in accepted and accepted[-1] == 0, accepted
    finally:
        _kill(apply)
        gw.close()


def test_pause_then_promote_with_no_runner_are_both_honoured_in_order(
    tmp_path: Path, state: str
) -> None:
    (tmp_path / "plan.yaml").write_text(plan_text(bake="1s", approval=True))
    first = procs.run(tmp_path, "apply", "plan.yaml", state=state)
    assert first.returncode == 5, first.stdout + first.stderr  # waiting for approval at 5 %
    assert procs.candidate(tmp_path / "routes.json") == 5
    for verb in ("pause", "promote"):
        r = procs.run(tmp_path, verb, NAME, state=state)
        assert r.returncode == 0, r.stderr
    second = procs.run(tmp_path, "apply", "plan.yaml", state=state)
    assert second.returncode == 5, second.stdout + second.stderr  # the pause holds
    assert procs.candidate(tmp_path / "routes.json") == 5
    events = procs.history(tmp_path, NAME, state)
    msgs = [e["message"] for e in events]
    paused = next(i for i, m in enumerate(msgs) if m.startswith("paused by"))
    approved = next(i for i, m in enumerate(msgs) if "stage expansion approved by" in m)
    assert paused < approved, msgs  # both, in the order they were given
    st = procs.status(tmp_path, NAME, state)
    assert st["phase"] == "paused"
    r = procs.run(tmp_path, "resume", NAME, state=state)
    assert r.returncode == 0, r.stderr
    third = procs.run(tmp_path, "apply", "plan.yaml", state=state)
    assert third.returncode == 0, third.stdout + third.stderr  # the approval was kept
    assert procs.candidate(tmp_path / "routes.json") == 100


def test_a_runner_frozen_past_its_ttl_stops_before_acting_once_taken_over(
    tmp_path: Path, state: str
) -> None:
    # interval 10s -> lease TTL 30 s (the minimum), renew deadline 20 s.
    (tmp_path / "plan.yaml").write_text(plan_text(bake="120s", interval="10s", exp_bake="10s"))
    routes = tmp_path / "routes.json"
    a = procs.start(tmp_path, "apply", "plan.yaml", state=state)
    b: subprocess.Popen[str] | None = None
    try:
        procs.wait_for(
            lambda: a.poll() is not None or procs.candidate(routes) == 5, timeout=90, what="5 %"
        )
        assert a.poll() is None, a.communicate()
        os.kill(a.pid, signal.SIGSTOP)  # frozen: neither ticks nor heartbeat
        frozen = time.monotonic()
        early = procs.run(tmp_path, "apply", "plan.yaml", state=state)
        assert early.returncode == 6 and f"pid {a.pid}" in early.stderr, early.stderr
        # Retry until the lease expires (TTL 30 s after A's last renewal) and B takes over.
        while True:
            b = procs.start(tmp_path, "apply", "plan.yaml", state=state)
            try:
                b.wait(timeout=3)
            except subprocess.TimeoutExpired:
                break  # B is running: it holds the lease
            assert b.returncode == 6, b.communicate()
            assert time.monotonic() - frozen < 120, "the frozen holder's lease never expired"
            time.sleep(1)
        took = time.monotonic() - frozen
        print(f"taken over {took:.1f}s after the holder froze (TTL 30 s)")
        assert took > 20  # not before the renew deadline: A might still have been acting
        procs.wait_for(
            lambda: any(e["kind"] == "takeover" for e in procs.history(tmp_path, NAME, state)),
            what="takeover recorded",
        )
        revision = (procs.routes(routes) or {}).get("revision")
        os.kill(a.pid, signal.SIGCONT)
        out, err = a.communicate(timeout=60)
        assert a.returncode == 6, out + err  # lost the lease: stopped
        assert "lease" in err
        assert (procs.routes(routes) or {}).get("revision") == revision  # A wrote nothing
        assert b.poll() is None  # B still holds it and runs
        r = procs.run(tmp_path, "abort", NAME, state=state)
        assert r.returncode == 0, r.stderr
        b.communicate(timeout=60)
        assert b.returncode == 4
    finally:
        if a.poll() is None:
            os.kill(a.pid, signal.SIGCONT)
        _kill(a)
        if b is not None:
            _kill(b)
