"""`python -m tests.helpers.fault_trace ARGS...`: `rollout ARGS...`, and every fault point the
process reaches appended (one name a line) to the file named by ROLLOUT_FAULT_TRACE.

The fault harness runs its uninterrupted baseline through this, so it knows how many times each
point is reached and can check that every (point, occurrence) it kills at is really reached.
"""

from __future__ import annotations

import os
import sys

from rollout import faults


def main() -> int:
    path = os.environ["ROLLOUT_FAULT_TRACE"]
    real = faults.point

    def traced(name: str) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(name + "\n")
        real(name)

    faults.point = traced  # every caller looks it up as faults.point(...) at call time
    from rollout.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
