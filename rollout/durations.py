"""Durations as people write them: `30s`, `5m`, `1h30m`, `2d`."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str | int | float) -> int:
    """Seconds in a duration; a bare number is seconds (as in Argo Rollouts)."""
    if isinstance(text, bool):
        raise ValueError("expected a duration like 30s, 5m or 1h30m")
    if isinstance(text, int | float):
        if text < 0 or int(text) != text:
            raise ValueError("a duration in seconds must be a whole number >= 0")
        return int(text)
    s = str(text).strip().lower()
    if s.isdigit():
        return int(s)
    pos, total = 0, 0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"{text!r} is not a duration; write it like 30s, 5m or 1h30m")
    return total


def format_duration(seconds: float) -> str:
    """The inverse, for display: 5400 -> '1h30m'."""
    seconds = int(round(seconds))
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)
