"""The only place that prints. Rich is imported lazily; JSON output is versioned."""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import Any


@cache
def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def is_tty() -> bool:
    return sys.stdout.isatty()


def emit_json(schema: str, payload: dict[str, Any]) -> None:
    """Print one JSON document: {"schema": "rollout.<what>/v1", ...}. Stable for CI."""
    from rollout.redact import redact, redact_text

    doc = {"schema": schema, **redact(payload)}
    # redact() masks the values; the text is masked again for what `default=str` turned into text
    sys.stdout.write(redact_text(json.dumps(doc, indent=2, default=str)) + "\n")
    sys.stdout.flush()


def line(text: str = "", *, err: bool = False) -> None:
    """A plain line (CI logs, pipes); known secrets and secret-looking values masked."""
    from rollout.redact import redact_text

    stream = sys.stderr if err else sys.stdout
    stream.write(redact_text(text) + "\n")
    stream.flush()


def warn(text: str) -> None:
    line(f"warning: {text}", err=True)


def loud(text: str) -> None:
    """For what a person must not miss (a rollback that could not be completed)."""
    bar = "!" * min(78, max(20, len(text.splitlines()[0]) if text else 20))
    line(f"{bar}\n{text}\n{bar}", err=True)
