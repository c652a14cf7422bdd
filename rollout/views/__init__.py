"""Views: how each verb's result is shown, kept apart from what the verb decides.

Terraform-style: every verb has a module here with a human renderer, `human(...) -> list[str]`
(lines for people and CI logs), and a JSON renderer, `data(...) -> dict` (one document with a
versioned `schema`). A command decides, then calls `show(view, output, ...)` once; it never
formats text itself. Views never touch the store, the clock or the network: what they need
(the run, `now`, the lease holder) is passed in, so they are tested as plain functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import ModuleType
from typing import Any


def show(view: ModuleType, output: str, *args: Any, **kwargs: Any) -> bool:
    """Render with the view's JSON or human renderer; False when stdout has been closed."""
    if output == "json":
        return emit_json(view.SCHEMA, view.data(*args, **kwargs))
    shown = emit_lines(view.human(*args, **kwargs))
    notes = getattr(view, "notes", None)  # warnings for people, on stderr (never in JSON)
    if notes is not None:
        emit_lines((f"warning: {n}" for n in notes(*args, **kwargs)), err=True)
    return shown


def emit_lines(lines: Iterable[str], *, err: bool = False) -> bool:
    """Write lines; a closed pipe (`rollout history | head`) is not an error (see `pipe_closed`)."""
    from rollout import output

    try:
        for text in lines:
            output.line(text, err=err)
    except BrokenPipeError:
        pipe_closed()
        return False
    return True


def emit_json(schema: str, payload: dict[str, Any]) -> bool:
    from rollout import output

    try:
        output.emit_json(schema, payload)
    except BrokenPipeError:
        pipe_closed()
        return False
    return True


def emit_ndjson(schema: str, payload: dict[str, Any]) -> bool:
    """One compact JSON document per line (`status --watch -o json`): a stream tools can read."""
    from rollout.redact import redact

    text = json.dumps({"schema": schema, **redact(payload)}, default=str, separators=(",", ":"))
    return emit_lines([text])


def pipe_closed() -> None:
    """The reader went away: send the rest of stdout to /dev/null so exit does not fail on flush.

    The command then finishes its work and exits with its usual code (the documented behaviour:
    `rollout status | head -1` exits 0; `rollout apply PLAN | head` still drives the rollout and
    exits with its outcome). This is the recipe of the Python docs for SIGPIPE.
    """
    import os
    import sys

    stream = sys.__stdout__  # the real one, under any wrapper (masking, capture)
    try:
        fd = stream.fileno() if stream is not None else 1
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind stdout: nothing to do
        pass
