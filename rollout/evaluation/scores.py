"""Per-item scores from what an eval command printed on stdout. Strict: a malformed score is an
error (the evaluation is never judged on it), never a silently dropped item.

Accepted shapes (the first that fits):

1. One JSON object, the whole of stdout or its last non-empty line (logs before it are fine):
   * `{"items": [{"id": "q1", "score": 0.8}, ...]}` (also under `results`, `rows` or `tests`, or
     nested one level: `{"results": {"results": [...]}}` as promptfoo writes it; `rows` with
     flat dotted keys as azure-ai-evaluation writes them; `tests` with `nodeid` and `outcome`
     as pytest-json-report writes them);
   * `{"scores": {"q1": 0.8, "q2": 0.5}}` (one metric, `score`) or
     `{"scores": {"q1": {"score": 0.8, "refused": 0}}}`.
2. JSON lines: every stdout line that starts with `{` is one item, `{"id": "q1", "score": 0.8}`;
   other lines are logs and are ignored; a `{` line that is not a JSON object is an error.

An item's id is `id` (else `item_id`, `key`, `testIdx`, `nodeid`, `inputs.id`), a string or a
whole number. A metric is a field of the item, a flat dotted key (`outputs.relevance.relevance`)
or a dotted path (`metrics.accuracy`, `gradingResult.score`). Values: a finite number, true/false
(1/0: pass/fail evals), or a pytest outcome (passed 1, failed / error 0, skipped: no score).
`null` or an absent field: that item has no score for that metric (it is reported missing, never
imputed). Another string, NaN, infinity, a duplicate id or an item without an id: the output is
malformed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

ID_KEYS = ("id", "item_id", "key", "testIdx", "nodeid", "inputs.id")
LIST_KEYS = ("items", "results", "rows", "tests")
# pytest-json-report outcomes: passed / failed count 1 / 0; skipped is no score (missing)
OUTCOMES = {"passed": 1.0, "failed": 0.0, "error": 0.0, "xfailed": 0.0, "xpassed": 1.0}
MAX_ITEMS = 1_000_000

# metric -> item id -> value (None: the item is there but has no value for the metric)
Scores = dict[str, dict[str, float | None]]


class MalformedScores(ValueError):
    """The command's output cannot be read as per-item scores."""


def parse(text: str, metrics: Sequence[str]) -> Scores:
    doc = _document(text)
    items = _items_of(doc) if doc is not None else _json_lines(text)
    if not items:
        raise MalformedScores(
            'no per-item scores found: print {"items": [{"id": ..., "score": ...}]} or JSON '
            'lines {"id": ..., "score": ...}'
        )
    if len(items) > MAX_ITEMS:
        raise MalformedScores(f"{len(items):,} items; the limit is {MAX_ITEMS:,}")
    out: Scores = {m: {} for m in metrics}
    seen: set[str] = set()
    for i, item in enumerate(items):
        item_id = id_of(item, i)
        if item_id in seen:
            raise MalformedScores(f"item id {item_id!r} appears twice")
        seen.add(item_id)
        for m in metrics:
            out[m][item_id] = _value(item, m, item_id)
    return out


def _document(text: str) -> Any:
    stripped = text.strip()
    lines = [ln.strip() for ln in stripped.splitlines() if ln.strip()]
    for candidate in (stripped, lines[-1] if lines else ""):
        try:
            doc = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(doc, dict) and _has_items(doc):
            return doc
    return None


def _has_items(doc: dict[str, Any]) -> bool:
    if "scores" in doc:
        return True
    for k in LIST_KEYS:
        v = doc.get(k)
        if isinstance(v, list) or (isinstance(v, dict) and any(x in v for x in LIST_KEYS)):
            return True
    return False


def _items_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if "scores" in doc:
        scores = doc["scores"]
        if not isinstance(scores, dict):
            raise MalformedScores('"scores" must map item ids to numbers or objects')
        return [
            v | {"id": k} if isinstance(v, dict) else {"id": k, "score": v}
            for k, v in scores.items()
        ]
    for k in LIST_KEYS:
        v = doc.get(k)
        if isinstance(v, dict):
            v = next((v[x] for x in LIST_KEYS if x in v), None)
        if isinstance(v, list):
            return _objects(v, f'"{k}"')
    raise MalformedScores("no item list found")  # _has_items said there was one


def _objects(values: Iterable[Any], where: str) -> list[dict[str, Any]]:
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, dict):
            raise MalformedScores(f"{where}[{i}] is not an object (got {_short(v)})")
        out.append(v)
    return out


def _json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s.startswith("{"):
            continue  # a log line
        try:
            doc = json.loads(s)
        except json.JSONDecodeError as exc:
            raise MalformedScores(f"stdout line {n} is not valid JSON ({exc.msg})") from None
        if not isinstance(doc, dict):
            raise MalformedScores(f"stdout line {n} is not a JSON object")
        out.append(doc)
    return out


def id_of(item: dict[str, Any], index: int) -> str:
    for k in ID_KEYS:
        v = item.get(k)
        if isinstance(v, bool):
            break
        if isinstance(v, str) and v:
            return v[:256]
        if isinstance(v, int):
            return str(v)
    raise MalformedScores(
        f"item {index} has no id (one of {', '.join(ID_KEYS)}: a string or a whole number)"
    )


def _value(item: dict[str, Any], metric: str, item_id: str) -> float | None:
    v: Any = item
    if metric in item:
        v = item[metric]  # a flat key, dots and all
    else:
        for part in metric.split("."):
            if not isinstance(v, dict) or part not in v:
                return None
            v = v[part]
    if v is None or v == "skipped":
        return None
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, str) and v in OUTCOMES:
        return OUTCOMES[v]
    if isinstance(v, int | float) and math.isfinite(v):
        return float(v)
    raise MalformedScores(f"item {item_id!r}: {metric} is {_short(v)}, not a finite number")


def _short(v: Any) -> str:
    s = json.dumps(v) if not isinstance(v, float) else repr(v)
    return s if len(s) <= 60 else s[:57] + "..."
