"""Live progress for `apply`: plain lines off a terminal (CI logs), a rich status line on one."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from rollout.records import Event, Run
from rollout.views._format import iso
from rollout.views.runs import describe


class Progress:
    def __init__(self, *, stream: Any = None, json_mode: bool = False) -> None:
        # In JSON mode progress goes to stderr so stdout stays one JSON document.
        self.stream = stream or (sys.stderr if json_mode else sys.stdout)
        self.tty = self.stream.isatty() and not json_mode
        self._status: Any = None
        self._closed = False

    def __enter__(self) -> Progress:
        if self.tty:
            from rollout.output import console

            self._status = console().status("starting…")
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)
            self._status = None

    def event(self, e: Event) -> None:
        # The same line as `rollout history` prints: one word per kind ("verdict", never
        # "gate" for some of them), ISO time in seconds (bakes cross midnight).
        text = f"{iso(e.at)}  {e.kind:<8} {e.message}"
        if self.tty:
            from rollout.output import console

            style = {
                "phase": "bold",
                "weights": "cyan",
                "drift": "yellow",
                "error": "bold red",
            }.get(e.kind)
            if e.kind == "verdict":
                style = {"fail": "red", "pass": "green"}.get(str(e.data.get("status")), "yellow")
            console().print(text, style=style, markup=False)
        elif not self._closed:
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except BrokenPipeError:  # `rollout apply PLAN | head`: the rollout goes on, unseen
                from rollout.views import pipe_closed

                pipe_closed()
                self._closed = True

    def tick(self, run: Run, now: datetime) -> None:
        if self._status is not None:
            self._status.update(describe(run, now))
