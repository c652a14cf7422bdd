"""Metrics source `azure-monitor`: Azure Monitor platform metrics of one ARM resource, typically
an Azure OpenAI account (`AzureOpenAIRequests`, `AzureOpenAITimeToResponse`, token counts ...).

    metrics:
      type: azure-monitor
      # /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.CognitiveServices/accounts/<a>
      resource_id: /subscriptions/.../accounts/aoai-prod
      interval: PT1M          # bucket size asked of Azure Monitor (ISO-8601, or FULL)
      lag: 2m                 # optional: read windows this much earlier (metrics arrive late)
Credentials: azure-identity's DefaultAzureCredential (scope `<endpoint>/.default`).

Query syntax (one line; `{{ target }}` is already replaced by the variant's deployment name):

    METRIC:AGGREGATION [where COND [and COND]...] [default NUMBER]

    AGGREGATION  total | count | average | minimum | maximum
    COND         Dimension = 'value'           exact, case-insensitive
                 Dimension = 'prefix*'         prefix: StatusCode = '5*' is every 5xx
                 Dimension in ('v1', 'v2*')    any of them
    default N    the answer when Azure answered but has no data points (e.g. no errors at all)

    AzureOpenAIRequests:total where ModelDeploymentName = '{{ target }}'
    AzureOpenAIRequests:total where ModelDeploymentName = '{{ target }}'
        and StatusCode in ('5*', '429') default 0        (one line, wrapped here)
    AzureOpenAITimeToResponse:average where ModelDeploymentName = '{{ target }}'

Exact values go to `$filter` (`Dim eq 'v'`, several joined by `or`); a prefix makes Azure split
by the dimension (`Dim eq '*'`) and the series are matched here, ignoring case (Azure lower-cases
dimension names in `metadatavalues`). A condition on `StatusCode` always splits, so the values
Azure reports are seen: if none of them looks like an HTTP status code, `'5*'` and `'429'` would
match nothing and `default 0` would pass the error gate silently, so that is an error instead
(and `rollout check` looks at the last hour's values the same way). All buckets of all matching
series are combined: total and count summed, average weighted by each bucket's count,
minimum/maximum the extreme. Buckets with only a timestamp are empty; all empty means "no data" (or
the `default`). Windows are floored to the interval grid so that consecutive windows read disjoint
buckets (nothing counted twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from rollout.errors import InvalidInput, NoData, ProviderError
from rollout.metrics import Window
from rollout.registry import BuildContext

API_VERSION = "2024-02-01"
AGGREGATIONS = ("total", "count", "average", "minimum", "maximum")
_ALIASES = {"sum": "total", "avg": "average", "mean": "average", "min": "minimum", "max": "maximum"}
_HTTP_CODE = re.compile(r"^[1-5]\d\d$")
_INTERVAL = re.compile(r"^(?:FULL|P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?)$")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource_id: str
    interval: str = "PT1M"
    lag: str = "0s"
    metric_namespace: str | None = None
    top: int = Field(default=50, ge=1, le=1000)  # Azure returns only 10 split series unless told
    endpoint: str = (
        "https://management.azure.com"  # sovereign clouds: management.usgovcloudapi.net ...
    )
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("resource_id")
    @classmethod
    def _arm_id(cls, v: str) -> str:
        v = "/" + v.strip().strip("/")
        if not v.lower().startswith("/subscriptions/") or "/providers/" not in v.lower():
            raise ValueError(
                "expected an ARM id like /subscriptions/<sub>/resourceGroups/<rg>/providers/"
                "Microsoft.CognitiveServices/accounts/<name>"
            )
        return v

    @field_validator("interval", "lag", "endpoint")
    @classmethod
    def _shapes(cls, v: str, info: ValidationInfo) -> str:
        from rollout.durations import parse_duration

        if info.field_name == "lag":
            parse_duration(v)  # ValueError says how to write it
        elif info.field_name == "endpoint":
            v = v.rstrip("/")
        elif not _INTERVAL.match(v := v.strip().upper()) or v in ("P", "PT"):
            raise ValueError("expected an ISO-8601 duration like PT1M, PT5M, PT1H, or FULL")
        return v


@dataclass(frozen=True)
class Cond:
    dimension: str
    values: tuple[str, ...]  # a trailing * makes a value a prefix

    def matches(self, value: str) -> bool:
        v = value.lower()
        return any(
            v.startswith(p[:-1].lower()) if p.endswith("*") else v == p.lower() for p in self.values
        )


@dataclass(frozen=True)
class Query:
    metric: str
    aggregation: str
    conds: tuple[Cond, ...] = ()
    default: float | None = None

    def odata_filter(self) -> str | None:
        parts = []
        for c in self.conds:
            if any(v.endswith("*") for v in c.values) or _is_status(c.dimension):
                parts.append(f"{c.dimension} eq '*'")  # split; matched client-side
            else:
                parts.append(" or ".join(f"{c.dimension} eq '{_odata(v)}'" for v in c.values))
        return " and ".join(parts) or None


def _is_status(dimension: str) -> bool:
    return dimension.lower() == "statuscode"


def _check_status_codes(metric: str, series: list[dict[str, Any]], what: str) -> None:
    """ProviderError when Azure split by StatusCode and no value looks like an HTTP code."""
    values = set()
    for s in series:
        for mv in s.get("metadatavalues") or [] if isinstance(s, dict) else []:
            if _is_status(str((mv.get("name") or {}).get("value", ""))):
                values.add(str(mv.get("value", "")))
    if values and not any(_HTTP_CODE.match(v) for v in values):
        shown = ", ".join(repr(v) for v in sorted(values)[:6])
        raise ProviderError(
            f"Azure Monitor metric {metric}: StatusCode values are {shown}, none of them an "
            f"HTTP status code, so {what} would match nothing and read as no errors; write the "
            "condition with the values Azure reports here"
        )


def _odata(value: str) -> str:
    return value.replace("'", "''")  # OData escapes a quote by doubling it


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)"
    r"|(?P<op>[(),:=])"
    r"|(?P<word>[A-Za-z_][\w.\-/]*))"
)
_SYNTAX = "write METRIC:AGGREGATION [where Dim = 'v' [and Dim in ('a', 'b*')]] [default 0]"


def parse_query(text: str) -> Query:
    """Parse the query syntax in the module docstring; InvalidInput says what is wrong."""
    toks: list[tuple[str, str]] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InvalidInput(
                f"azure-monitor query {text!r}: unexpected {text[pos:].strip()[:20]!r}; {_SYNTAX}"
            )
        kind = m.lastgroup or ""
        val = m.group(kind)
        toks.append((kind, val[1:-1].replace("''", "'") if kind == "str" else val))
        pos = m.end()
    i = 0

    def take(kind: str, word: str | None = None) -> str:
        nonlocal i
        if i >= len(toks) or toks[i][0] != kind or (word and toks[i][1].lower() != word):
            got = repr(toks[i][1]) if i < len(toks) else "the end"
            want = word or {"str": "a 'quoted' value", "word": "a name", "num": "a number"}.get(
                kind, kind
            )
            raise InvalidInput(
                f"azure-monitor query {text!r}: expected {want}, got {got}; {_SYNTAX}"
            )
        i += 1
        return toks[i - 1][1]

    def accept(word: str) -> bool:
        nonlocal i
        if i < len(toks) and toks[i][0] in ("word", "op") and toks[i][1].lower() == word:
            i += 1
            return True
        return False

    metric = take("str") if toks and toks[0][0] == "str" else take("word")
    take("op", ":")
    agg = take("word").lower()
    agg = _ALIASES.get(agg, agg)
    if agg not in AGGREGATIONS:
        raise InvalidInput(
            f"azure-monitor query {text!r}: unknown aggregation {agg!r}; use one of "
            f"{', '.join(AGGREGATIONS)}"
        )
    conds: list[Cond] = []
    while accept("and" if conds else "where"):
        dim = take("word")
        if accept("in"):
            take("op", "(")
            values = [take("str")]
            while accept(","):
                values.append(take("str"))
            take("op", ")")
        else:
            _ = accept("eq") or take("op", "=")
            values = [take("str")]
        conds.append(Cond(dim, tuple(values)))
    default = float(take("num")) if accept("default") else None
    if i != len(toks):
        raise InvalidInput(f"azure-monitor query {text!r}: unexpected {toks[i][1]!r}; {_SYNTAX}")
    return Query(metric, agg, tuple(conds), default)


def _align(t: datetime, interval: str) -> datetime:
    if not (m := _INTERVAL.match(interval)) or interval == "FULL":  # one bucket for any span
        return t
    step = timedelta(days=int(m[1] or 0), hours=int(m[2] or 0), minutes=int(m[3] or 0))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (t - epoch) // step * step


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AzureMonitorSource:
    def __init__(self, config: Config, client: Any, now: Any) -> None:
        from rollout.durations import parse_duration

        self.config = config
        self.client = client
        self._now = now  # () -> datetime, for check()
        self._lag = timedelta(seconds=parse_duration(config.lag))

    def _url(self, q: Query, start: datetime, end: datetime, aggregations: str) -> str:
        params = {
            "api-version": API_VERSION,
            "metricnames": q.metric,
            "aggregation": aggregations,
            "interval": self.config.interval,
            "timespan": f"{_iso(start)}/{_iso(end)}",
        }
        if self.config.metric_namespace:
            params["metricnamespace"] = self.config.metric_namespace
        flt = q.odata_filter()
        if flt:
            # `$filter` stays literal and values are %-quoted as the Azure SDK sends them.
            params["$filter"] = flt
            params["top"] = str(self.config.top)
        qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        base = f"{self.config.endpoint}{self.config.resource_id}"
        return f"{base}/providers/Microsoft.Insights/metrics?{qs}"

    def _fetch(self, q: Query, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The timeseries of `q.metric`; ProviderError on any failure, including one inside a "
        "200."""
        aggs = "average,count" if q.aggregation == "average" else q.aggregation
        what = f"Azure Monitor metric {q.metric}"
        resp = self.client.request("GET", self._url(q, start, end, aggs), what=what)
        hint = f" (request id {rid})" if (rid := resp.headers.get("x-ms-request-id")) else ""
        try:
            body = resp.json()
            metrics = body["value"]
            if not isinstance(metrics, list):
                raise TypeError("value is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                f"{what}: unexpected response from Azure Monitor ({exc}): {resp.text[:200]!r}{hint}"
            ) from exc
        for m in metrics:
            if (
                not isinstance(m, dict)
                or str((m.get("name") or {}).get("value", "")).lower() != q.metric.lower()
            ):
                continue
            code = m.get("errorCode") or "Success"
            if code != "Success":
                raise ProviderError(
                    f"{what}: Azure Monitor error {code}: "
                    f"{m.get('errorMessage') or 'no message'}{hint}"
                )
            series = m.get("timeseries")
            if not isinstance(series, list):
                raise ProviderError(
                    f"{what}: unexpected response from Azure Monitor (no timeseries list){hint}"
                )
            return series
        raise ProviderError(
            f"{what}: Azure Monitor's answer has no metric named {q.metric!r}{hint}"
        )

    def query(self, query: str, window: Window) -> float:
        try:
            q = parse_query(query)
        except InvalidInput as exc:  # the source contract: failures are ProviderError, never a pass
            raise ProviderError(str(exc)) from exc
        start, end = (
            _align(t - self._lag, self.config.interval) for t in (window.start, window.end)
        )
        if start >= end:
            raise NoData(f"the window is shorter than the metrics interval {self.config.interval}")
        series = self._fetch(q, start, end)
        for c in q.conds:
            if _is_status(c.dimension):
                cond = f"StatusCode in ({', '.join(repr(v) for v in c.values)})"
                _check_status_codes(q.metric, series, cond)
        try:
            return combine([s for s in series if _selected(s, q)], q.aggregation)
        except NoData:
            if q.default is None:
                raise
            return q.default
        except (AttributeError, TypeError) as exc:  # a series or point that is not an object
            raise ProviderError(
                f"Azure Monitor metric {q.metric}: malformed timeseries ({exc})"
            ) from exc

    def check(self) -> None:
        """Credentials, resource id and api-version work, and StatusCode holds HTTP codes: the
        last hour's requests split by StatusCode."""
        if (
            "microsoft.cognitiveservices" in self.config.resource_id.lower()
        ):  # else: no metric known
            end = self._now()
            q = Query("AzureOpenAIRequests", "total", (Cond("StatusCode", ("*",)),))
            series = self._fetch(q, end - timedelta(hours=1), end)
            _check_status_codes(q.metric, series, "conditions like StatusCode = '5*'")


def _selected(series: dict[str, Any], q: Query) -> bool:
    mvs = series.get("metadatavalues") or []
    dims = {
        str((mv.get("name") or {}).get("value")).lower(): str(mv.get("value", "")) for mv in mvs
    }
    for c in q.conds:
        got = dims.get(c.dimension.lower())
        if got is None:
            if any(v.endswith("*") for v in c.values):
                raise ProviderError(
                    f"Azure Monitor did not split {q.metric} by {c.dimension}; is it a dimension "
                    "of this metric?"
                )
            continue  # Azure applied the exact filter itself and did not echo the dimension
        if not c.matches(got):
            return False
    return True


def combine(series: list[dict[str, Any]], aggregation: str) -> float:
    """One number from every bucket of every series; NoData when all buckets are empty."""
    points = [
        p
        for s in series
        for p in (s.get("data") or [])
        if isinstance(p, dict) and p.get(aggregation) is not None
    ]
    if not points:
        raise NoData("Azure Monitor returned no data points for this window")
    try:
        values = [float(p[aggregation]) for p in points]
        if aggregation in ("total", "count"):
            return sum(values)
        if aggregation != "average":
            return min(values) if aggregation == "minimum" else max(values)
        counts = [float(p.get("count") or 0) for p in points]
        if all(c > 0 for c in counts):
            return sum(v * c for v, c in zip(values, counts, strict=True)) / sum(counts)
        return sum(values) / len(values)
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"Azure Monitor returned a non-numeric {aggregation}: {exc}") from exc


def build(config: Config, ctx: BuildContext) -> AzureMonitorSource:
    from rollout.azure.rest import AzureClient
    from rollout.clock import SystemClock

    x = ctx.extra
    client = AzureClient(
        scope=f"{config.endpoint}/.default",
        credential=x.get("azure_credential"),
        transport=x.get("http_transport"),
        sleep=x.get("sleep"),
        timeout=config.timeout,
    )
    return AzureMonitorSource(config, client, (x.get("clock") or SystemClock()).now)
