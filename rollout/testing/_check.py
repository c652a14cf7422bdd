"""Helpers the conformance suites share, so their checks run with or without pytest."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Raised:
    """What `raises` caught (like pytest's ExceptionInfo, only `.value`)."""

    value: BaseException | None = None


@contextmanager
def raises(
    kind: type[BaseException], what: str = "", *, match: str | None = None
) -> Iterator[Raised]:
    """Assert the body raises `kind` (whose message matches `match`, a regex): a plain-Python
    pytest.raises, as pytest is a dev dependency and a plugin author may run the suites from
    any test runner. Other exceptions propagate."""
    caught = Raised()
    try:
        yield caught
    except kind as exc:
        caught.value = exc
        if match is not None and not re.search(match, str(exc)):
            raise AssertionError(
                f"{what or kind.__name__}: {str(exc)!r} does not match {match!r}"
            ) from exc
        return
    raise AssertionError(f"{what or 'the call'}: expected {kind.__name__}, nothing was raised")


def clear_message(err: BaseException, mentions: str) -> None:
    """A failure a user reads: a message, not a dump, that says what failed."""
    msg = str(err)
    assert msg.strip(), f"a {type(err).__name__} needs a message"
    assert "Traceback" not in msg, f"a message, not a dump: {msg!r}"
    assert mentions in msg, f"{msg!r} does not say what failed ({mentions!r})"


def fixture(func: F) -> F:
    """pytest.fixture when pytest is installed; otherwise the function itself (the suites'
    base classes are then importable, though only pytest collects them)."""
    try:
        import pytest
    except ImportError:  # pragma: no cover - pytest is a dev dependency
        return func
    return cast(F, pytest.fixture(func))


def parametrize(name: str, values: Sequence[object]) -> Callable[[F], F]:
    """pytest.mark.parametrize when pytest is installed (see `fixture`)."""
    try:
        import pytest
    except ImportError:  # pragma: no cover
        return lambda func: func
    return cast(Callable[[F], F], pytest.mark.parametrize(name, values))
