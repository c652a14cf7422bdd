"""A fake Log Analytics query API (`v1`) for httpx.MockTransport.

From /work/shared/reference/azure-api-shapes.md §2.4: `POST {endpoint}/v1/workspaces/{id}/query`
with `{"query", "timespan"}` (GET with query parameters too), answering
`{"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}`;
a partial failure is a 200 carrying `error` beside `tables`. The fake cannot run KQL: tests
register answers for query substrings; `print name = <number>` is answered by itself, and any
other query is a 400 like a KQL semantic error.

    fake = FakeLogAnalytics(WS)
    fake.on('variant == "candidate"', [("count_", "long")], [[42]])
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

_DURATION = re.compile(r"^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")
_PRINT = re.compile(r"^\s*print\s+(\w+)\s*=\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass
class Answer:
    match: Callable[[str], bool]
    columns: list[tuple[str, str]]
    rows: list[list[Any]]
    error: dict[str, Any] | None = None


@dataclass
class FakeLogAnalytics:
    workspace_id: str
    token: str = "fake-token"
    host: str = "api.loganalytics.io"
    cells_as_strings: bool = False  # encode long/real/bool cells as the spec examples do ("1.286")
    answers: list[Answer] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(
        default_factory=list
    )  # {"query", "timespan", ...} as received
    queued: list[httpx.Response] = field(default_factory=list)

    def on(
        self,
        match: str | Callable[[str], bool],
        columns: list[tuple[str, str]],
        rows: list[list[Any]],
        *,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Answer queries containing `match` (or for which it returns true); the last added wins."""
        pred = match if callable(match) else (lambda q, s=match: s in q)
        self.answers.insert(0, Answer(pred, columns, rows, error))

    def throttle(self, times: int = 1, retry_after: str = "3") -> None:
        for _ in range(times):
            self.queued.append(
                _error(
                    429,
                    "TooManyRequests",
                    "Too many requests; retry later.",
                    {"Retry-After": retry_after},
                )
            )

    def respond_next(self, response: httpx.Response) -> None:
        self.queued.append(response)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        resp = self._serve(request)
        resp.headers.setdefault("x-ms-request-id", f"la-{len(self.requests):04d}")
        return resp

    def _serve(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != self.host:
            return _error(404, "PathNotFoundError", f"unknown host {request.url.host}")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(
                401, "AuthorizationRequiredError", "Valid authentication was not provided"
            )
        m = re.fullmatch(r"/v1/workspaces/([^/]+)/query", request.url.path)
        if not m:
            return _error(
                404, "PathNotFoundError", f"The requested path does not exist: {request.url.path}"
            )
        if m.group(1) != self.workspace_id:
            return _error(
                404, "WorkspaceNotFoundError", f"The workspace could not be found: {m.group(1)}"
            )
        if request.method == "POST":
            if not request.headers.get("content-type", "").startswith("application/json"):
                return _error(
                    415, "UnsupportedMediaTypeError", "Content-Type must be application/json"
                )
            try:
                body = json.loads(request.content)
            except ValueError:
                return _error(400, "BadArgumentError", "The request body is not valid JSON")
        elif request.method == "GET":
            body = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        else:
            return _error(405, "MethodNotAllowed", request.method)
        self.bodies.append(body)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("query"), str)
            or not body["query"].strip()
        ):
            return _error(
                400,
                "BadArgumentError",
                "The request had some invalid properties",
                inner=("QueryValidationError", "query is required"),
            )
        if "timespan" in body and not _timespan_ok(body["timespan"]):
            return _error(400, "BadArgumentError", f"Invalid timespan {body['timespan']!r}")
        if self.queued:
            return self.queued.pop(0)
        return self._answer(body["query"])

    def _answer(self, query: str) -> httpx.Response:
        p = _PRINT.match(query)
        if p:
            kind = "real" if "." in p.group(2) else "long"
            ans = Answer(
                lambda _q: True,
                [(p.group(1), kind)],
                [[float(p.group(2)) if kind == "real" else int(p.group(2))]],
            )
        else:
            found = next((a for a in self.answers if a.match(query)), None)
            if found is None:
                return _error(
                    400,
                    "BadArgumentError",
                    "The request had some invalid properties",
                    inner=(
                        "SemanticError",
                        "A semantic error occurred.",
                        "SEM0100",
                        f"'{query[:40]}': Failed to resolve table or column expression",
                    ),
                )
            ans = found
        table = {
            "name": "PrimaryResult",
            "columns": [{"name": n, "type": t} for n, t in ans.columns],
            "rows": [
                [self._cell(c, t) for c, (_, t) in zip(row, ans.columns, strict=False)]
                for row in ans.rows
            ],
        }
        body: dict[str, Any] = {"tables": [table]}
        if ans.error is not None:
            body["error"] = ans.error
        return httpx.Response(200, json=body)

    def _cell(self, value: Any, ctype: str) -> Any:
        if (
            self.cells_as_strings
            and value is not None
            and ctype in ("int", "long", "real", "decimal", "bool")
        ):
            return str(value).lower() if isinstance(value, bool) else str(value)
        return value


def partial_error(
    message: str = "Query result set has exceeded the internal record count limit",
) -> dict[str, Any]:
    """The `error` a partial result carries (QueryResults.error: ErrorInfo)."""
    return {
        "code": "PartialError",
        "message": "There were some errors when processing your query.",
        "details": [
            {
                "code": "EngineError",
                "message": "Something went wrong processing your query on the server.",
                "innererror": {
                    "code": "-2133196800",
                    "message": message,
                    "severity": 2,
                    "severityName": "Error",
                },
            }
        ],
    }


def _error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    inner: tuple[str, ...] | None = None,
) -> httpx.Response:
    err: dict[str, Any] = {"code": code, "message": message}
    if inner:
        err["innererror"] = {"code": inner[0], "message": inner[1]}
        if len(inner) > 2:
            err["innererror"]["innererror"] = {"code": inner[2], "message": inner[3]}
    return httpx.Response(status, headers=headers, content=json.dumps({"error": err}).encode())


def _timespan_ok(ts: Any) -> bool:
    if not isinstance(ts, str):
        return False
    if "/" not in ts:
        return bool(_DURATION.match(ts)) and ts not in ("P", "PT")
    try:
        a, b = (datetime.fromisoformat(x.replace("Z", "+00:00")) for x in ts.split("/"))
    except ValueError:
        return False
    return a.tzinfo is not None and b.tzinfo is not None and a < b


@dataclass
class IngestingWorkspace:
    """A workspace whose rows arrive late: each AppRequests row has a TimeGenerated, an
    ingestion delay and an ItemCount (sampling: one row kept stands for ItemCount requests).
    It answers `summarize count()` and `summarize sum(ItemCount)` over the request's
    timespan, with only the rows ingested by `now` - as the service does."""

    workspace: str
    now: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    rows: list[tuple[datetime, timedelta, int]] = field(default_factory=list)

    def add(self, generated: datetime, delay: timedelta, item_count: int = 1) -> None:
        self.rows.append((generated, delay, item_count))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        start_text, end_text = body["timespan"].split("/")
        start, end = (
            datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start_text, end_text)
        )
        seen = [(g, n) for g, d, n in self.rows if start <= g < end and g + d <= self.now]
        if "sum(ItemCount)" in body["query"]:
            column, value = "sum_ItemCount", sum(n for _, n in seen)
        else:
            column, value = "count_", len(seen)
        table = {
            "name": "PrimaryResult",
            "columns": [{"name": column, "type": "long"}],
            "rows": [[value]],
        }
        return httpx.Response(200, json={"tables": [table]})
