"""The one error boundary: expected errors print their message and exit with their code.

It is also the output boundary: while a command runs, stdout and stderr are wrapped so that
every write is masked (known secret values and secret-looking patterns, rollout.redact), and
a crash log is masked the same way. Whatever prints — progress lines, tables, an error
message quoting a gateway's reply — cannot put a configured secret on the terminal or in a CI
log.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from rollout.errors import EXIT_INTERRUPTED, EXIT_RUNTIME, RolloutError


class MaskedStream:
    """A text stream whose writes are masked; everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from rollout.redact import redact_text

        self._stream.write(redact_text(text) if isinstance(text, str) else text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for text in lines:
            self.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def masked_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr masked for the duration (nested use is harmless)."""
    old = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, MaskedStream):
        sys.stdout = MaskedStream(sys.stdout)
    if not isinstance(sys.stderr, MaskedStream):
        sys.stderr = MaskedStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = old


def boundary(fn: Callable[[], int]) -> int:
    with masked_streams():
        return _guarded(fn)


def _guarded(fn: Callable[[], int]) -> int:
    try:
        return fn()
    except RolloutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP (rollout.signals)
        name = getattr(exc, "name", "Ctrl-C")
        print(
            f"interrupted ({name}): traffic left as recorded; run the same command again to resume",
            file=sys.stderr,
        )
        return int(getattr(exc, "exit_code", EXIT_INTERRUPTED))
    except Exception as exc:  # a bug: say so, keep the traceback out of the user's face
        from rollout.redact import redact_text

        log = _crash_log(exc)
        print(f"error: unexpected {type(exc).__name__}: {redact_text(str(exc))}", file=sys.stderr)
        print(f"this is a bug in rollout; details in {log}", file=sys.stderr)
        return EXIT_RUNTIME


def _crash_log(exc: BaseException) -> Path:
    from rollout import __version__
    from rollout.redact import redact_text

    path = Path(os.environ.get("ROLLOUT_CRASH_LOG", ".rollout/crash.log"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(traceback.format_exception(exc))
        path.write_text(
            f"rollout {__version__}, python {sys.version.split()[0]}\n{redact_text(text)}"
        )
    except OSError:
        pass
    return path
