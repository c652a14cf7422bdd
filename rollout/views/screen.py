"""Where a sequence of frames goes (`status --watch`): redrawn in place on a terminal (rich
Live), printed when changed off one (CI logs, pipes), one NDJSON line per change with `-o json`.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from rollout import views


class Screen:
    def __init__(self, output: str, *, tty: bool | None = None) -> None:
        self.json = output == "json"
        self.tty = (sys.stdout.isatty() if tty is None else tty) and not self.json
        self._live: Any = None
        self._last: tuple[Any, ...] | None = None

    def __enter__(self) -> Screen:
        if self.tty:
            from rich.live import Live

            from rollout.output import console

            self._live = Live(console=console(), auto_refresh=False, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def frame(self, view: ModuleType, run: Any, *args: Any) -> bool:
        """Show one frame; False when stdout was closed (the watcher should stop)."""
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text("\n".join(view.human(run, *args))), refresh=True)
            return True
        key = (run.attempt, run.revision)
        if key == self._last:
            return True  # nothing changed: no new block in the log
        first = self._last is None
        self._last = key
        if self.json:
            return views.emit_ndjson(view.SCHEMA, view.data(run, *args))
        return views.emit_lines([*([] if first else [""]), *view.human(run, *args)])

    def close(self, view: ModuleType, run: Any, code: int, reason: str) -> None:
        """The last word: the outcome line (or, with `-o json`, the outcome document)."""
        self._stop()
        if self.json:
            views.emit_ndjson(view.OUTCOME_SCHEMA, view.outcome_data(run, code, reason))
        else:
            views.emit_lines(view.outcome(run, code, reason))

    def _stop(self) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
