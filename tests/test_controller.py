"""`rollout controller` on the embedded default (SQLite, file routes, simulated traffic), in
virtual time: it drives every active rollout to its outcome once, control verbs work against it,
SIGTERM (the stop flag) finishes the rollout in hand and gives the rest back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.cli import main
from rollout.clock import FakeClock
from rollout.commands._common import load_plan
from rollout.controller import Controller, LocalClaims, Look, claims_of, next_due
from rollout.records import Event, Phase
from rollout.runner import new_run
from rollout.state import open_store

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: {name}
variants:
  baseline:  {{model: gpt-4o}}
  candidate: {{model: gpt-4.1}}
router: {{type: file, path: routes-{name}.json}}
metrics:
  type: simulated
  seed: {seed}
  requests_per_second: 200
  baseline:  {{error_rate: 0.01}}
  candidate: {{error_rate: {error}}}
gates:
  - name: error-rate
    kind: proportion
    events: errors{{variant="{{{{ variant }}}}"}}
    total:  requests{{variant="{{{{ variant }}}}"}}
    max_ratio: 1.25
stages:
  - {{name: pilot,     weight: 5,  bake: 2m}}
  - {{name: expansion, weight: 50, bake: 2m}}
  - {{name: full,      weight: 100}}
analysis: {{interval: 30s, method: sequential, alpha: 0.05, on_inconclusive: proceed}}
"""


def write(root: Path, name: str, *, error: float = 0.01, seed: int = 7) -> Path:
    p = root / f"{name}.yaml"
    p.write_text(PLAN.format(name=name, error=error, seed=seed))
    return p


def create(state: str, path: Path, clock: FakeClock) -> None:
    """What `apply` does first: the run committed at step 0, nothing moved yet."""
    _, plan = load_plan(path, (), ())
    ev = Event(kind="created", at=clock.now(), message=f"rollout {plan.name} created")
    open_store(state).commit(new_run(plan, clock.now()), [ev], expected_revision=0)


def weight(root: Path, name: str) -> int:
    doc = json.loads((root / f"routes-{name}.json").read_text())
    return int({v["name"]: v["weight"] for v in doc["variants"]}["candidate"])


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    return f"sqlite:///{tmp_path / 'state.db'}"


def shifts(state: str, name: str) -> list[int]:
    """The candidate weight of every shift the audit trail records, in order."""
    out = []
    for e in open_store(state).history(name, limit=0):
        w = (e.data or {}).get("weights")
        if e.kind == "weights" and isinstance(w, dict):
            out.append(int(w["candidate"]))
    return out


@pytest.mark.slow  # over a second: whole rollouts through a controller
def test_one_replica_drives_every_rollout_to_its_outcome_once(tmp_path: Path, state: str) -> None:
    clock = FakeClock()
    good = [f"good-{i}" for i in range(4)]
    for i, n in enumerate(good):
        create(state, write(tmp_path, n, seed=i + 1), clock)
    create(state, write(tmp_path, "bad", error=0.05), clock)
    looks: list[Look] = []
    st = open_store(state)
    ctl = Controller(store=st, clock=clock, exit_when_done=True, on_look=looks.append)
    assert ctl.run() == 0
    for n in good:
        assert st.load(n).phase == Phase.COMPLETED  # type: ignore[union-attr]
        assert weight(tmp_path, n) == 100
        assert shifts(state, n) == [5, 50, 100]  # each step's shift once: no double shift
    assert st.load("bad").phase == Phase.ROLLED_BACK  # type: ignore[union-attr]
    assert weight(tmp_path, "bad") == 0
    # Several looks each (one per interval), every one decided at or after it fell due.
    assert len(looks) > 5 * 3 and all(x.decided >= x.due for x in looks)
    # SQLite keeps the schedule in the store: the claims are the store's, not in-process.
    assert not isinstance(claims_of(st), LocalClaims)


@pytest.mark.slow  # over a second: a controller run to the end
def test_the_cli_runs_a_controller_until_done(
    tmp_path: Path, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    create(state, write(tmp_path, "one"), clock)
    create(state, write(tmp_path, "two", error=0.05, seed=3), clock)
    capsys.readouterr()
    code = main(
        ["controller", "--state", state, "--exit-when-done", "--batch", "1", "-o", "json"],
        clock=clock,
    )
    assert code == 0
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {d["schema"] for d in docs} == {"rollout.controller/v1"}
    last = {d["name"]: d["result"] for d in docs}
    assert last == {"one": "completed", "two": "rolled_back"}
    assert weight(tmp_path, "one") == 100 and weight(tmp_path, "two") == 0


@pytest.mark.slow  # over a second: a controller on its own thread
def test_control_verbs_work_against_a_running_controller(tmp_path: Path, state: str) -> None:
    """pause holds a rollout where it is, resume moves it on, abort restores the baseline and
    the controller never moves it again."""
    clock = FakeClock()
    for n in ("paused", "aborted", "free"):
        create(state, write(tmp_path, n), clock)
    st = open_store(state)
    done: dict[str, bool] = {}
    held_at: list[int] = []

    def verbs(look: Look) -> None:
        run = st.load(look.name)
        assert run is not None
        if look.name == "aborted" and run.step_index >= 2 and "abort" not in done:
            done["abort"] = True
            assert main(["abort", "aborted", "--state", state], clock=clock) == 0
        if look.name == "paused" and run.step_index >= 2 and "pause" not in done:
            done["pause"] = True
            assert main(["pause", "paused", "--state", state], clock=clock) == 0
        if look.name == "paused" and run.phase == Phase.PAUSED:
            held_at.append(weight(tmp_path, "paused"))
            if len(held_at) == 5:  # five looks later, still where it was paused
                assert main(["resume", "paused", "--state", state], clock=clock) == 0

    ctl = Controller(store=st, clock=clock, exit_when_done=True, on_look=verbs, max_rounds=5000)
    assert ctl.run() == 0
    assert done == {"abort": True, "pause": True}
    assert len(held_at) >= 5 and len(set(held_at)) == 1 and held_at[0] > 0
    assert st.load("paused").phase == Phase.COMPLETED  # type: ignore[union-attr]
    assert st.load("aborted").phase == Phase.ABORTED  # type: ignore[union-attr]
    assert weight(tmp_path, "aborted") == 0
    assert st.load("free").phase == Phase.COMPLETED  # type: ignore[union-attr]
    # after the abort no shift toward the candidate was recorded
    trail = st.history("aborted", limit=0)
    at = next(i for i, e in enumerate(trail) if (e.data or {}).get("phase") == "aborted")
    assert 5 in shifts(state, "aborted")
    assert not [
        e for e in trail[at + 1 :] if e.kind == "weights" and e.data["weights"]["candidate"]
    ]


def test_a_stop_request_finishes_the_look_in_hand_and_gives_the_rest_back(
    tmp_path: Path, state: str
) -> None:
    clock = FakeClock()
    names = [f"r{i}" for i in range(4)]
    for n in names:
        create(state, write(tmp_path, n), clock)
    st = open_store(state)
    looked: list[str] = []
    ctl = Controller(store=st, clock=clock, batch=4)

    def stop_after_first(look: Look) -> None:
        looked.append(look.name)
        ctl.stop.set()  # what SIGTERM does

    ctl.on_look = stop_after_first
    assert ctl.run() == 0
    assert len(looked) == 1
    # the other three were given back: due at once, claimable by the next replica
    again = claims_of(st).claim_due("next", clock.now(), limit=10, ttl=60)
    assert sorted(c.name for c in again) == sorted(set(names) - set(looked))


def test_bad_batch_is_refused_with_nothing_changed(state: str, tmp_path: Path) -> None:
    assert main(["controller", "--state", state, "--batch", "0"], clock=FakeClock()) == 2
    assert not (tmp_path / "state.db").exists()


def test_next_due_is_last_look_plus_interval(tmp_path: Path, state: str) -> None:
    clock = FakeClock()
    create(state, write(tmp_path, "one"), clock)
    run = open_store(state).load("one")
    assert run is not None
    now = clock.now()
    assert next_due(run, now) is not None and (next_due(run, now) - now).total_seconds() == 30  # type: ignore[operator]
    done = run.model_copy(update={"phase": Phase.COMPLETED})
    assert next_due(done, now) is None
