"""The engine's `evaluate` step: judge the evaluation the runner ran, before any traffic moves.

Pure like the rest of the engine (time is an argument; the command ran in the runner). The
step is the first of a plan with an `evaluate:` section:

* pass (every required gate shown non-inferior): the verdicts go into `run.verdicts` as
  `evaluate:NAME` and an `evaluate` event per gate; the run moves on to preflight. A resumed
  apply starts past it: a passed evaluation is never rerun.
* fail or inconclusive: the run ends ROLLED_BACK (exit 3) with the paired numbers in the
  events; the router was never written (`desired` stays None: nothing to undo).
* no scores (the command failed, timed out, printed nothing usable): missing data is never
  evidence; as `analysis.on_no_data` says, the run pauses (exit 5; `rollout resume` runs the
  evaluation again) or ends rolled back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rollout.evaluation.judge import PREFIX, judge
from rollout.records import Event, Phase

if TYPE_CHECKING:
    from rollout.engine.types import Decision, Observation
    from rollout.records import Plan, Run, Step


def evaluate_step(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    from rollout.engine.types import Decision, ev, next_step

    spec = plan.spec.evaluate
    got = obs.evaluation
    if spec is None:  # a compiled step without its section cannot be judged: never a pass
        return _stop(run, now, "the plan has an evaluate step but no evaluate section", {})
    if got is None:
        return Decision(run=run, wake_at=now)  # the runner runs the command on its next pass
    if got.simulated:
        e = ev("evaluate", now, "evaluate: offline step not run by simulate (no traffic)")
        moved = next_step(run, now, message="evaluate: not simulated")
        return Decision(run=moved, events=(e,), wake_at=now)
    alpha = spec.alpha if spec.alpha is not None else plan.spec.analysis.alpha
    j = judge(spec, got, alpha)
    if j.outcome == "no_data":
        data = {"error": j.reason, "dataset": got.dataset}
        e = ev("evaluate", now, f"evaluate: {j.reason}", **data)
        if plan.spec.analysis.on_no_data == "rollback":
            return _stop(run, now, j.reason, data, extra=(e,))
        msg = (
            f"paused before any traffic moved: {j.reason}. Fix the eval command, then "
            f"`rollout resume {run.name}` runs the evaluation again (or `rollout abort`)"
        )
        phase = ev("phase", now, msg, phase=Phase.PAUSED.value, reason=j.reason)
        paused = run.model_copy(update={"phase": Phase.PAUSED, "message": msg})
        return Decision(run=paused, events=(e, phase), wake_at=None)
    verdicts = dict(run.verdicts)
    events = []
    for name, v in j.verdicts.items():
        verdicts[PREFIX + name] = v
        events.append(
            ev("evaluate", now, f"evaluate gate {name}: {v['status']} — {v['summary']}", **v)
        )
    run = run.model_copy(update={"verdicts": verdicts})
    if j.outcome == "pass":
        return Decision(
            run=next_step(run, now, message="evaluation passed"),
            events=tuple(events),
            wake_at=now,
        )
    return _stop(
        run,
        now,
        f"evaluation failed, no traffic was moved: {j.reason}",
        {"gates": j.blocking},
        extra=tuple(events),
    )


def _stop(
    run: Run, now: datetime, reason: str, data: dict[str, Any], extra: tuple[Event, ...] = ()
) -> Decision:
    """End the run before any traffic moved: rolled back (exit 3), the router never written.
    Should the step ever run with traffic on the candidate, it is an ordinary rollback."""
    from rollout.engine.types import Decision, SetWeights, ev
    from rollout.records import Weights

    if run.desired is not None and run.desired.candidate > 0:  # as engine.steps.rollback does
        base, phase = Weights.all_baseline(), Phase.ROLLING_BACK
        e = ev("phase", now, f"{phase.value}: {reason}", phase=phase.value, reason=reason, **data)
        back = run.model_copy(
            update={"phase": phase, "desired": base, "message": reason, "intents": ()}
        )
        return Decision(
            run=back, actions=(SetWeights(base, reason),), events=(*extra, e), wake_at=None
        )

    done_phase = Phase.ROLLED_BACK.value
    e = ev("phase", now, f"rolled_back: {reason}", phase=done_phase, reason=reason, **data)
    done = run.model_copy(update={"phase": Phase.ROLLED_BACK, "message": reason, "intents": ()})
    return Decision(run=done, events=(*extra, e), wake_at=None)
