"""A fake Azure Monitor metrics API (per resource, api-version 2024-02-01) for httpx.MockTransport.

Built from /work/shared/reference/azure-api-shapes.md §2.1: it parses `metricnames`,
`aggregation`, `interval`, `timespan`, `$filter` (`Dim eq 'v'`, `Dim eq '*'`, `and`/`or`) and
`top`; returns one timeseries per dimension combination with lower-cased `metadatavalues` names,
only the requested aggregations on each point, empty buckets as `{"timeStamp": ...}`, per-metric
`errorCode` failures inside a 200, and 429 + Retry-After on demand.

    fake = FakeAzureMonitor(RESOURCE_ID)
    fake.add_requests("gpt41-support", 200, n=950, at=T0)
    transport = httpx.MockTransport(fake)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

API_VERSION = "2024-02-01"
AGGS = ("average", "minimum", "maximum", "total", "count")

# name -> (unit, localized name, dimensions); from the reference's §2.3 table.
METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "AzureOpenAIRequests": (
        "Count",
        "Azure OpenAI Requests",
        (
            "ApiName",
            "OperationName",
            "Region",
            "StreamType",
            "ModelDeploymentName",
            "ModelName",
            "ModelVersion",
            "StatusCode",
            "IsSpillover",
        ),
    ),
    "AzureOpenAITimeToResponse": (
        "MilliSeconds",
        "Time to Response",
        (
            "ApiName",
            "OperationName",
            "Region",
            "StreamType",
            "ModelDeploymentName",
            "ModelName",
            "ModelVersion",
            "StatusCode",
        ),
    ),
    "AzureOpenAITTLTInMS": (
        "MilliSeconds",
        "Time to Last Byte",
        ("Region", "ModelDeploymentName", "ModelName", "ModelVersion"),
    ),
    "ProcessedPromptTokens": (
        "Count",
        "Processed Prompt Tokens",
        ("ApiName", "ModelDeploymentName", "FeatureName", "UsageChannel", "Region", "ModelVersion"),
    ),
    "GeneratedTokens": (
        "Count",
        "Generated Completion Tokens",
        ("ApiName", "ModelDeploymentName", "FeatureName", "UsageChannel", "Region", "ModelVersion"),
    ),
}


@dataclass
class Sample:
    """`n` raw measurements of `value` (a request counts as value 1) at `at` with dimensions."""

    metric: str
    at: datetime
    value: float
    n: int
    dims: dict[str, str]


@dataclass
class FakeAzureMonitor:
    resource_id: str
    token: str = "fake-token"
    region: str = "eastus"
    samples: list[Sample] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    metric_errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    queued: list[httpx.Response] = field(default_factory=list)  # sent before any real answer
    answers: list[dict[str, Any]] = field(default_factory=list)  # bodies of the 200s it built
    _ids: int = 0

    # --- arranging -------------------------------------------------------------------------
    def add(
        self, metric: str, at: datetime, value: float = 1.0, *, n: int = 1, **dims: str
    ) -> None:
        self.samples.append(Sample(metric, at, value, n, {k: str(v) for k, v in dims.items()}))

    def add_requests(self, deployment: str, status: int | str, n: int, at: datetime) -> None:
        self.add(
            "AzureOpenAIRequests",
            at,
            1.0,
            n=n,
            ModelDeploymentName=deployment,
            StatusCode=str(status),
        )

    def fail_metric(
        self,
        metric: str,
        code: str = "InvalidSamplingType",
        message: str = "Sampling type is not found.",
    ) -> None:
        self.metric_errors[metric.lower()] = (code, message)

    def throttle(self, times: int = 1, retry_after: str = "7") -> None:
        for _ in range(times):
            self.queued.append(
                _error(
                    429,
                    "TooManyRequests",
                    "Rate limit exceeded; retry later.",
                    {"Retry-After": retry_after},
                )
            )

    def respond_next(self, response: httpx.Response) -> None:
        self.queued.append(response)

    @property
    def params(self) -> dict[str, str]:
        """The last request's query parameters, decoded."""
        return _params(self.requests[-1])

    # --- serving ---------------------------------------------------------------------------
    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self._ids += 1
        resp = self._serve(request)
        resp.headers.setdefault("x-ms-request-id", f"00000000-0000-0000-0000-{self._ids:012d}")
        return resp

    def _serve(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing or invalid.",
            )
        p = _params(request)
        if "api-version" not in p:
            return _error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if p["api-version"] != API_VERSION:
            return _error(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{p['api-version']}' is invalid. The supported versions are "
                f"'{API_VERSION}'.",
            )
        want = f"/{self.resource_id.strip('/')}/providers/Microsoft.Insights/metrics".lower()
        if request.method != "GET" or request.url.path.lower() != want:
            return _error(
                404, "ResourceNotFound", f"The resource '{request.url.path}' was not found."
            )
        if self.queued:
            return self.queued.pop(0)
        try:
            self.answers.append(self._metrics(p))
            return httpx.Response(200, json=self.answers[-1])
        except _BadRequest as exc:
            return _error(400, "BadRequest", str(exc))

    def _metrics(self, p: dict[str, str]) -> dict[str, Any]:
        try:
            start_s, end_s = p["timespan"].split("/")
            start, end = _when(start_s), _when(end_s)
        except (KeyError, ValueError) as exc:
            raise _BadRequest(
                f"Invalid timespan {p.get('timespan')!r}; expected 'start/end' in ISO-8601"
            ) from exc
        aggs = [a.strip().lower() for a in p.get("aggregation", "average").split(",")]
        if any(a not in AGGS for a in aggs):
            raise _BadRequest(f"Invalid aggregation {p['aggregation']!r}")
        interval = p.get("interval", "PT1M")
        step = _step(interval, end - start)
        clauses = _parse_filter(p.get("$filter", ""))
        top = int(p.get("top", "10"))
        names = [n for n in p.get("metricnames", "").split(",") if n]
        if not names:
            raise _BadRequest("metricnames is required")
        value = []
        for name in names:
            known = next((k for k in METRICS if k.lower() == name.lower()), None)
            if known is None:
                raise _BadRequest(
                    "Failed to find metric configuration for provider: "
                    f"Microsoft.CognitiveServices, resource Type: accounts, metric: {name}, Valid "
                    f"metrics: {', '.join(METRICS)}"
                )
            unit, localized, dims = METRICS[known]
            unknown = [d for d, _ in clauses if d.lower() not in {x.lower() for x in dims}]
            if unknown:
                raise _BadRequest(
                    f"Metric: {known} does not support requested dimension combination: "
                    f"{', '.join(unknown)}"
                )
            entry: dict[str, Any] = {
                "id": f"/{self.resource_id.strip('/')}/providers/Microsoft.Insights/metrics/"
                f"{known}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": known, "localizedValue": localized},
                "unit": unit,
            }
            if known.lower() in self.metric_errors:
                code, message = self.metric_errors[known.lower()]
                entry.update(timeseries=[], errorMessage=message, errorCode=code)
            else:
                entry.update(
                    timeseries=self._series(
                        known, start, end, step, aggs, clauses, top if clauses else None
                    ),
                    errorCode="Success",
                )
            value.append(entry)
        return {
            "cost": 0,
            "timespan": p["timespan"],
            "interval": interval,
            "value": value,
            "namespace": "microsoft.cognitiveservices/accounts",
            "resourceregion": self.region,
        }

    def _series(
        self,
        metric: str,
        start: datetime,
        end: datetime,
        step: timedelta | None,
        aggs: list[str],
        clauses: list[tuple[str, set[str] | None]],
        top: int | None,
    ) -> list[dict[str, Any]]:
        first = start if step is None else _floor(start, step)
        buckets = (
            [first]
            if step is None
            else [first + i * step for i in range(int((end - first) / step + 0.999999))]
        )
        size = (end - first) if step is None else step
        groups: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
        for s in self.samples:
            if s.metric != metric or not (first <= s.at < first + len(buckets) * size):
                continue
            lower = {k.lower(): v for k, v in s.dims.items()}
            key = []
            for dim, values in clauses:
                v = lower.get(dim.lower())
                if v is None or (values is not None and v.lower() not in values):
                    break
                key.append((dim.lower(), v))
            else:
                groups.setdefault(tuple(key), []).append(s)
        if not groups and all(v is not None and len(v) == 1 for _, v in clauses):
            # No data for an exact filter (or none): one series whose buckets are all empty.
            groups[tuple((d.lower(), next(iter(v))) for d, v in clauses if v)] = []
        out = []
        for key, samples in groups.items():
            data = []
            for b in buckets:
                inside = [s for s in samples if b <= s.at < b + size]
                point: dict[str, Any] = {"timeStamp": b.strftime("%Y-%m-%dT%H:%M:%SZ")}
                if inside:
                    total = sum(s.value * s.n for s in inside)
                    count = sum(s.n for s in inside)
                    full = {
                        "total": total,
                        "count": float(count),
                        "average": total / count,
                        "minimum": min(s.value for s in inside),
                        "maximum": max(s.value for s in inside),
                    }
                    point.update({a: full[a] for a in AGGS if a in aggs})
                data.append(point)
            md = [{"name": {"value": d, "localizedValue": d}, "value": v} for d, v in key]
            out.append((sum(s.value * s.n for s in samples), {"metadatavalues": md, "data": data}))
        out.sort(key=lambda t: -t[0])
        return [s for _, s in (out[:top] if top is not None else out)]


class _BadRequest(Exception):
    pass


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return httpx.Response(status, headers=headers, content=body)


def _params(request: httpx.Request) -> dict[str, str]:
    q = parse_qs(request.url.query.decode(), keep_blank_values=True)
    return {k: v[-1] for k, v in q.items()}


def _when(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("timespan needs a UTC offset")
    return dt.astimezone(UTC)


def _step(interval: str, span: timedelta) -> timedelta | None:
    if interval.upper() == "FULL":
        return None
    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?", interval.upper())
    if not m or not any(m.groups()):
        raise _BadRequest(f"Invalid interval {interval!r}")
    d, h, mi = (int(g or 0) for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi)


def _floor(t: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((t - epoch) // step) * step


_COND = re.compile(
    r"\s*\(?\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*\)?\s*(?:(and|or)\b|$)", re.IGNORECASE
)


def _parse_filter(text: str) -> list[tuple[str, set[str] | None]]:
    """`A eq 'a1' and B eq 'b1' or B eq 'b2' and C eq '*'` -> [(A,{a1}), (B,{b1,b2}), (C,None)].

    Values are lower-cased (Azure compares them without case); None means split by all values.
    An `or` may only join conditions on the same dimension (as the spec says).
    """
    clauses: list[tuple[str, set[str] | None]] = []
    pos, joiner = 0, "and"
    text = text.strip()
    while pos < len(text):
        m = _COND.match(text, pos)
        if not m:
            raise _BadRequest(f"Invalid $filter near {text[pos:]!r}")
        dim, value = m.group(1), m.group(2).replace("''", "'")
        values = None if value == "*" else {value.lower()}
        if joiner == "or":
            prev_dim, prev = clauses[-1]
            if prev_dim.lower() != dim.lower():
                raise _BadRequest("An 'or' cannot join conditions on different dimensions")
            clauses[-1] = (prev_dim, None if prev is None or values is None else prev | values)
        else:
            clauses.append((dim, values))
        joiner = (m.group(3) or "").lower()
        pos = m.end()
    return clauses
