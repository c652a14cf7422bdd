"""Run as a script by the cross-process tests: `python _worker.py URL MODE NAME [COUNT]`.

commit: wait for "go" on stdin, then make COUNT successful commits (reload and retry on
        StaleState); print a JSON summary.
hold:   take NAME's lease, print "held", then block until killed.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
from datetime import UTC, datetime

from rollout.errors import StaleState
from rollout.records import Event, Holder, Plan, Run
from rollout.state import open_store
from rollout.testing import tiny_spec


def main() -> None:
    url, mode, name = sys.argv[1:4]
    store = open_store(url)
    if mode == "hold":
        me = Holder(user=getpass.getuser(), host=socket.gethostname(), pid=os.getpid())
        with store.lease(name, me, ttl=3600):
            print("held", flush=True)
            sys.stdin.read()  # blocks until the parent kills us
        return
    count = int(sys.argv[4])
    print("ready", flush=True)
    sys.stdin.readline()
    wins: list[int] = []
    stale = 0
    while len(wins) < count:
        run = store.load(name)
        if run is None:  # nobody created it yet: race to create it (expected_revision 0)
            plan = Plan(name=name, plan_hash="h", steps=(), spec=tiny_spec(name), fingerprints={})
            now = datetime.now(UTC)
            run = Run(name=name, plan_hash="h", plan=plan, created_at=now, updated_at=now)
        event = Event(
            kind="test",
            at=datetime.now(UTC),
            message=f"pid {os.getpid()}",
            data={"pid": os.getpid(), "base": run.revision},
        )
        try:
            store.commit(
                run.model_copy(update={"message": str(os.getpid())}),
                [event],
                expected_revision=run.revision,
            )
        except StaleState:
            stale += 1
            continue
        wins.append(run.revision)
    print(json.dumps({"pid": os.getpid(), "wins": wins, "stale": stale}), flush=True)


if __name__ == "__main__":
    main()
