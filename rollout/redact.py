"""Keep secrets out of state, logs and reports: known secret values (rollout.secrets) and
secret-looking patterns are masked in text; secret-looking keys are masked in documents."""

from __future__ import annotations

import re
from typing import Any

from rollout import secrets

SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[-_]?key|credential|authorization|sas|connection[-_]?string)",
    re.I,
)
_INLINE = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)((?:api[-_]?key|token|secret|password|sig|signature)=)[^&\s\"']+"),
    re.compile(r"(?i)(://[^:/\s]+:)[^@/\s]+(@)"),  # user:password@host
    re.compile(r"()sk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"()eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # JWT
]
MASK = "***"


def redact_text(text: str) -> str:
    """Every known secret value, then every secret-looking pattern, masked."""
    text = secrets.mask(text)
    for pat in _INLINE:
        text = pat.sub(
            lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex and m.lastindex >= 2 else ""),
            text,
        )
    return text


def _names_env(key: str) -> bool:
    """`headers_env: {X-Api-Key: PROM_KEY}` maps names to variable names: nothing secret."""
    return key.endswith(("_env", "_file"))


def redact(value: Any, key: str = "") -> Any:
    """A copy of `value` with secret-looking keys masked and secret-looking strings cleaned."""
    if isinstance(value, dict):
        if _names_env(key):
            return {
                k: redact_text(v) if isinstance(v, str) else redact(v) for k, v in value.items()
            }
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if key and SECRET_KEY.search(key) and not _names_env(key) and value:
            return MASK
        return redact_text(value)
    return value


def literal_secrets(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Field paths in a plan that hold a literal secret (a secret-looking key with a string value).

    Plans are stored and shown; credentials belong in the environment (`token_env: NAME`).
    """
    found: list[tuple[str | int, ...]] = []
    if isinstance(value, dict):
        if path and _names_env(str(path[-1])):
            return found  # header -> environment variable name: the value is not in the plan
        for k, v in value.items():
            key = str(k)
            if (
                isinstance(v, str)
                and v
                and SECRET_KEY.search(key)
                and not key.endswith(("_env", "_file"))
                and "${" not in v
            ):
                found.append((*path, key))
            else:
                found += literal_secrets(v, (*path, key))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += literal_secrets(v, (*path, i))
    return found
