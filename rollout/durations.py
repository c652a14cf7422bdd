"""Durations as people write them: `30s`, `5m`, `1h30m`, `2d`."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+)(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# A year is far longer than any sane bake; anything beyond it is a typo (and would overflow
# datetime arithmetic in the engine), so it is rejected here with a message.
MAX_SECONDS = 366 * 86400
_SHAPE = "write it like 30s, 5m or 1h30m"


def parse_duration(text: object) -> int:
    """Seconds in a duration; a bare whole number is seconds (as in Argo Rollouts).

    Raises ValueError (never anything else) so that pydantic turns it into a located error.
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"expected a duration; {_SHAPE}")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0 or int(text) != text:
            raise ValueError("a duration in seconds must be a whole number >= 0")
        return _capped(int(text))
    s = text.strip().lower()
    if s.isdigit():
        return _capped(int(s))
    pos, total = 0, 0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"{text!r} is not a duration; {_SHAPE}")
    return _capped(total)


def _capped(seconds: int) -> int:
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"{format_duration(seconds)} is longer than the longest allowed duration (366d)"
        )
    return seconds


def format_duration(seconds: float) -> str:
    """The inverse, for display: 5400 -> '1h30m'."""
    seconds = round(seconds)
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + "".join(out)
