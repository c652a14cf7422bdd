"""Level-triggered reconciliation: compare what the router serves with what the run recorded.

Three cases when they differ (observed != desired):

* the act was never confirmed (verified != desired): the process died between commit and act,
  or the act failed. Set the recorded weights again: this is how a crash heals on resume.
* the router serves *more* candidate traffic than recorded (a stale writer, a person, a
  gateway that reverted): put the recorded weights back. Less candidate traffic is always safe,
  so this direction is always re-asserted — for finished runs too (an aborted or rolled-back
  run keeps the baseline, whoever looks).
* the router serves *less* candidate traffic than recorded although we had verified it: someone
  moved traffic toward the baseline outside rollout (an `abort` that restored the router but
  could not record, a person in the portal). Pushing candidate traffic back would undo a safety
  action, so the run pauses at what the router serves and says so; `resume` re-applies.
"""

from __future__ import annotations

from datetime import datetime

from rollout.engine.types import Decision, Observation, SetWeights, ev
from rollout.records import Phase, Run


def heal(run: Run, obs: Observation, now: datetime, *, wake: datetime | None) -> Decision:
    seen, want = obs.weights, run.desired
    if want is None or seen is None:
        return Decision(run=run, wake_at=wake)
    if seen == want:
        if run.verified != want:  # the observation is the verification
            return Decision(run=run.model_copy(update={"verified": want}), wake_at=wake)
        return Decision(run=run, wake_at=wake)
    outside = run.verified == want and seen.candidate < want.candidate
    if outside and not run.phase.finished:
        msg = (
            f"the router serves {seen}, but rollout recorded and verified {want}: traffic was "
            f"moved toward the baseline outside rollout. Paused at what the router serves; "
            f"`rollout resume {run.name}` re-applies {want.candidate}%, "
            f"`rollout abort {run.name}` keeps the baseline"
        )
        e = ev(
            "drift",
            now,
            msg,
            observed=seen.model_dump(),
            desired=want.model_dump(),
            action="paused",
        )
        paused = run.model_copy(
            update={"phase": Phase.PAUSED, "desired": seen, "verified": seen, "message": msg}
        )
        return Decision(run=paused, events=(e,), wake_at=None)
    why = "an interrupted shift" if run.verified != want else "drift"
    e = ev(
        "drift",
        now,
        f"router holds {seen}, recorded {want}: setting it again ({why})",
        observed=seen.model_dump(),
        desired=want.model_dump(),
        action="reasserted",
    )
    return Decision(run=run, actions=(SetWeights(want, "drift"),), events=(e,), wake_at=now)
