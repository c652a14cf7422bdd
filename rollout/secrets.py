"""The known-secrets set: every credential value `rollout` has configured, and one mask for all.

Patterns (`Bearer ...`, `password=...`) cannot recognise a gateway's API key echoed in an error
body, or a PostgreSQL password quoted by libpq. So every provider registers the secret values
it configures (environment values used in headers and auth, URL userinfo and query tokens) the
moment it reads them, and every writer masks any occurrence of any of them: the state store
(rollout.state.redacting), stdout and stderr (rollout.error_handler), JSON, reports, the GitHub
step summary and crash logs (through rollout.redact.redact_text). Process-wide on purpose: one
boundary, whatever the surrounding text.

Values shorter than MIN_LENGTH are not registered (masking "abc" everywhere would garble
output and hide nothing worth hiding); encodings a message may carry a value in (repr, JSON,
URL-quoted, base64 for basic auth) are registered alongside it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

MASK = "***"
MIN_LENGTH = 6

_lock = threading.Lock()
_known: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _forms(value: str) -> set[str]:
    """The value and the ways a message may spell it."""
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe="")}
    forms.add(quote(value))
    forms.add(repr(value.encode("utf-8", "surrogateescape"))[2:-1])  # httpx: b'...'
    # A multi-line value may be quoted one line at a time.
    forms.update(part for part in re.split(r"[\r\n]+", value))
    return {f for f in forms if len(f) >= MIN_LENGTH}


def register(*values: str | None) -> None:
    """Add configured secret values (None and short values are ignored)."""
    global _pattern
    new = set()
    for v in values:
        if isinstance(v, str) and len(v) >= MIN_LENGTH:
            new |= _forms(v)
    if not new:
        return
    with _lock:
        if new <= _known:
            return
        _known.update(new)
        # Longest first, so that a secret containing another is masked whole.
        ordered = sorted(_known, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_basic(user: str, password: str) -> None:
    """Basic auth: the password, and the base64 of user:password that the header carries."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    register(password, token)


def register_url(url: str | None) -> None:
    """The userinfo password and secret-looking query values of a URL."""
    if not url:
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        register(parts.password, unquote(parts.password))
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if re.search(r"(token|secret|passw|pwd|key|sig|auth|code|credential)", key, re.I):
            register(value)


def mask(text: str) -> str:
    """`text` with every known secret replaced by ***."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def known() -> frozenset[str]:
    with _lock:
        return frozenset(_known)


def forget_all() -> None:
    """For tests: start from an empty set."""
    global _pattern
    with _lock:
        _known.clear()
        _pattern = None


def any_known(texts: Iterable[str]) -> bool:
    pattern = _pattern
    return pattern is not None and any(pattern.search(t) for t in texts)
