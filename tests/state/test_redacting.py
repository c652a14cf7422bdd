"""The redacting wrapper: what a commit masks, and that a plan already masked is not walked again
until the known secrets change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from rollout import secrets
from rollout.records import Event, Plan, Run
from rollout.state import redacting
from rollout.state.memory import MemoryStore
from rollout.testing import tiny_spec

T = datetime(2026, 11, 22, tzinfo=UTC)
KEY = "s3cr3t-value-123"


@pytest.fixture(autouse=True)
def _no_secrets() -> Iterator[None]:
    secrets.forget_all()
    yield
    secrets.forget_all()


def _run(router_path: str = "routes.json", message: str = "") -> Run:
    spec = tiny_spec("r", router={"type": "file", "path": router_path})
    plan = Plan(name="r", plan_hash="h", steps=(), spec=spec, fingerprints={})
    return Run(name="r", plan_hash="h", plan=plan, message=message, created_at=T, updated_at=T)


def test_known_secrets_and_patterns_are_masked_in_the_run_and_its_plan() -> None:
    secrets.register(KEY)
    run = _run(router_path=f"/x/{KEY}.json", message="gateway said Bearer abcdefghijkl")
    out = redacting.masked_run(run)
    assert out.plan.spec.router.path == "/x/***.json"  # type: ignore[union-attr]
    assert out.message == "gateway said Bearer ***"
    assert redacting.masked_run(out) is out  # clean: no copies


def test_a_clean_plan_is_walked_once_until_a_secret_is_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walked: list[Any] = []
    real = redacting.masked

    def counting(value: Any, mask: Any = redacting._full) -> Any:
        if isinstance(value, Plan):
            walked.append(value)
        return real(value, mask)

    monkeypatch.setattr(redacting, "masked", counting)
    run = _run(router_path=f"/x/{KEY}.json")
    first = redacting.masked_run(run)
    walks = len(walked)
    assert walks > 0 and first.plan is run.plan  # nothing to mask yet
    for i in range(3):
        assert redacting.masked_run(run.model_copy(update={"step_index": i})).plan is run.plan
    assert len(walked) == walks  # the same plan object: not walked again
    secrets.register(KEY)  # a new secret: the plan is checked again, and masked
    later = redacting.masked_run(run.model_copy(update={"step_index": 9}))
    assert len(walked) > walks
    assert later.plan.spec.router.path == "/x/***.json"  # type: ignore[union-attr]


def test_the_store_gets_the_masked_run_and_events() -> None:
    secrets.register(KEY)
    store = redacting.wrap(MemoryStore())
    ev = Event(kind="error", at=T, message=f"failed with {KEY}", data={"body": KEY})
    store.commit(_run(message=f"x {KEY}"), [ev], expected_revision=0)
    loaded = store.load("r")
    assert loaded is not None and loaded.message == "x ***"
    (stored,) = store.history("r")
    assert stored.message == "failed with ***" and stored.data == {"body": "***"}


def test_a_plan_read_from_the_store_is_not_walked_unless_it_holds_a_known_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean, dirty = _run(), _run(router_path=f"/x/{KEY}.json")
    walked: list[Any] = []
    real = redacting.masked

    def counting(value: Any, mask: Any = redacting._full) -> Any:
        if isinstance(value, Plan):
            walked.append(value)
        return real(value, mask)

    monkeypatch.setattr(redacting, "masked", counting)
    secrets.register(KEY)
    for run in (clean, dirty):
        text = run.plan.model_dump_json()
        loaded = run.model_copy(update={"plan": Plan.model_validate_json(text)})
        redacting.stored(loaded.plan, text)
        out = redacting.masked_run(loaded)
        want = run.plan.spec.router.path.replace(KEY, "***")  # type: ignore[union-attr]
        assert out.plan.spec.router.path == want  # type: ignore[union-attr]
    # only the plan holding a known secret was walked (twice: known values, then patterns)
    assert [p.spec.router.path for p in walked] == [f"/x/{KEY}.json", "/x/***.json"]
