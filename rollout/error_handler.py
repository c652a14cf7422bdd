"""The one error boundary: expected errors print their message and exit with their code."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from rollout.errors import EXIT_INTERRUPTED, EXIT_RUNTIME, RolloutError


def boundary(fn: Callable[[], int]) -> int:
    try:
        return fn()
    except RolloutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            "interrupted: traffic left as recorded; run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so, keep the traceback out of the user's face
        log = _crash_log(exc)
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
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
