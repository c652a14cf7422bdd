"""`rollout reconcile [NAME...]`: advance every active rollout by what is due now, then exit.

Judge the data since the last look (the e-process takes any window, so an hour between two
scheduled jobs is one tick), shift, roll back — with the same lease, fencing and
commit → act → verify as `apply` — and return instead of sleeping. A scheduled CI job, a cron
entry or a
Kubernetes CronJob drives hour-long bakes this way without an hour-long process, and nothing
waits unwatched between jobs. A rollout whose lease another live process holds is skipped (it
is being driven). Exit 0 unless a rollout was rolled back in this pass (3) or could not be
advanced (1); waiting for a person is not a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollout import notify, views
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, existing_store, where
from rollout.errors import EXIT_OK, EXIT_ROLLED_BACK, EXIT_RUNTIME, LeaseHeld, RolloutError
from rollout.records import Phase, Run
from rollout.state import StateStore
from rollout.views import reconcile as view


def run(
    names: Sequence[str] = (),
    state: str | None = None,
    output: str = "text",
    clock: Clock | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    clock = clock_or_system(clock)
    st = existing_store(state)
    if st is None:
        results: list[dict[str, Any]] = []
        views.show(view, output, results, f"nothing to reconcile: no store at {where(state)}")
        return EXIT_OK
    wanted = set(names)
    runs = [r for r in st.runs() if not r.phase.finished and (not wanted or r.name in wanted)]
    missing = wanted - {r.name for r in st.runs()}
    results = [
        {"name": n, "result": "unknown", "message": "no such rollout"} for n in sorted(missing)
    ]
    for r in runs:
        results.append(_one(st, r, clock, extra))
    views.show(view, output, results, None)
    if any(x["result"] in ("error", "unknown") for x in results):
        return EXIT_RUNTIME
    if any(x["result"] == Phase.ROLLED_BACK.value for x in results):
        return EXIT_ROLLED_BACK
    return EXIT_OK


def _one(st: StateStore, r: Run, clock: Clock, extra: dict[str, Any] | None) -> dict[str, Any]:
    from rollout.commands.apply import _job_summary, lease_ttl
    from rollout.lease import LeaseKeeper
    from rollout.providers import build_all
    from rollout.runner import Runner, holder

    notifier = notify.start(r.plan, r.attempt)
    try:
        providers = build_all(r.plan, extra)
        with st.lease(r.name, holder(), ttl=lease_ttl(r.plan)) as lease:
            keeper = LeaseKeeper(lease, lease_ttl(r.plan), start=False)
            runner = Runner(
                plan=r.plan,
                store=st,
                providers=providers,
                clock=clock,
                lease=keeper,
                wait=True,
                once=True,
                on_event=notifier,
            )
            runner.run()
    except LeaseHeld as exc:
        return {"name": r.name, "result": "skipped", "message": str(exc)}
    except RolloutError as exc:
        return {"name": r.name, "result": "error", "message": str(exc)}
    finally:
        notifier.close(st, clock)  # bounded by the timeouts; failures into the event log
    latest = st.load(r.name) or r
    _job_summary(st, latest)  # the GitHub job summary of each rollout this job advanced
    return {"name": r.name, "result": latest.phase.value, "message": latest.message}
