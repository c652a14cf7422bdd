"""Metrics source `log-analytics`: KQL over a Log Analytics workspace (workspace-based
Application Insights data: AppRequests, AppDependencies, custom tables ...).

    metrics:
      type: log-analytics
      workspace_id: 00000000-0000-0000-0000-000000000000   # the workspace's customer id (a GUID)
      endpoint: https://api.loganalytics.io   # sovereign clouds: api.loganalytics.us ...
      lag: 5m                   # read each window this much later: rows arrive late
      column: errors            # optional: which column to read when the query returns several
      allow_partial: false      # true: use partial results (with a warning) instead of failing

Each query is KQL, rendered per variant, that returns ONE row with ONE numeric column:

    AppRequests | where Properties.variant == "{{ variant }}" | summarize sum(ItemCount)
    AppRequests | where Properties.variant == "{{ variant }}" and ResultCode startswith "5"
        | summarize sum(ItemCount)

Count with `sum(ItemCount)`, not `count()`: Application Insights samples telemetry, and each row
kept stands for ItemCount requests, so counting rows undercounts whatever was sampled.

The window goes in the request's `timespan` ("start/end"), so queries need no time filter.
Rows reach the workspace minutes after their TimeGenerated (ingestion lag, typically 20 s to
3 min, more under load). A window read as soon as it closes misses its newest rows, and the next
window never counts them again; `lag:` shifts every window that much into the past (each row
is still counted once) so that what is read has arrived.
No rows, a null or NaN means "no data"; several rows or a non-numeric column is an error.
Credentials come from azure-identity's DefaultAzureCredential (scope `<endpoint>/.default`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rollout.errors import NoData, ProviderError
from rollout.metrics import Window
from rollout.registry import BuildContext

NUMERIC = frozenset({"int", "long", "real", "decimal"})


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workspace_id: str = Field(min_length=1)
    endpoint: str = "https://api.loganalytics.io"
    column: str | None = None
    allow_partial: bool = False
    lag: str = "0s"  # how far each window is shifted back (ingestion lag)
    timeout: float = Field(default=60.0, gt=0)  # KQL can be slow; the service waits up to 3 min

    @field_validator("workspace_id")
    @classmethod
    def _workspace(cls, v: str) -> str:
        v = v.strip()
        if "/" in v or " " in v:
            raise ValueError(
                "expected the workspace id (a GUID, 'Workspace ID' in the portal), not a name or "
                "ARM id"
            )
        return v

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        return v.rstrip("/")

    @field_validator("lag")
    @classmethod
    def _lag(cls, v: str) -> str:
        from rollout.durations import parse_duration

        parse_duration(v)  # ValueError says how to write it
        return v


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_error(err: Any) -> str:
    """`code: message` of a Log Analytics error, with details and the innermost cause."""
    if not isinstance(err, dict):
        return str(err)[:300]
    parts = [f"{err.get('code') or 'Error'}: {err.get('message') or 'no message'}{_innermost(err)}"]
    for d in (err.get("details") or [])[:3]:
        if isinstance(d, dict) and d.get("message"):
            parts.append(f"{d['message']}{_innermost(d)}")
    return "; ".join(parts)


def _innermost(err: dict[str, Any]) -> str:
    inner, found = err.get("innererror"), ""
    for _ in range(10):  # the chain is short; never loop on a malformed body
        if not isinstance(inner, dict):
            break
        if inner.get("message"):
            found = f" ({inner['message']})"
        inner = inner.get("innererror")
    return found


class LogAnalyticsSource:
    def __init__(self, config: Config, client: Any) -> None:
        from rollout.durations import parse_duration

        self.config = config
        self.client = client
        self._lag = timedelta(seconds=parse_duration(config.lag))
        self.url = f"{config.endpoint}/v1/workspaces/{config.workspace_id}/query"

    def _run(self, kql: str, timespan: str) -> dict[str, Any]:
        """The PrimaryResult table; ProviderError on failure, including a partial one by default."""
        what = f"Log Analytics workspace {self.config.workspace_id}"
        # Prefer: wait=N makes the service give up when we would (its default is 3 minutes).
        headers = {"Prefer": f"wait={int(self.config.timeout)}"}
        resp = self.client.request(
            "POST",
            self.url,
            what=what,
            ok=(200, 400),
            headers=headers,
            json={"query": kql, "timespan": timespan},
        )
        if resp.status_code == 400:  # a KQL error: its cause is in `innererror`, so say it all
            from rollout.azure.rest import AzureError, error_from

            generic = error_from(resp, what)
            try:
                message = describe_error(resp.json()["error"])
            except (ValueError, KeyError, TypeError):
                raise generic from None
            raise AzureError(
                400, generic.code, message.split(": ", 1)[-1], generic.request_id, what
            )
        try:
            body = resp.json()
            if isinstance(body, dict) and body.get("error") and not body.get("tables"):
                raise ProviderError(f"{what}: the query failed: {describe_error(body['error'])}")
            tables = body["tables"]
            table = next((t for t in tables if t.get("name") == "PrimaryResult"), tables[0])
            if not isinstance(table["columns"], list) or not isinstance(table["rows"], list):
                raise TypeError("columns/rows are not lists")
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ProviderError(
                f"{what}: unexpected response from Log Analytics ({type(exc).__name__}: {exc}): "
                f"{resp.text[:200]!r}"
            ) from exc
        if body.get("error"):
            problem = f"{what}: the query returned partial results: {describe_error(body['error'])}"
            if not self.config.allow_partial:
                raise ProviderError(problem + " (set allow_partial: true to use them anyway)")
            from rollout.output import warn

            warn(problem)
        return dict(table)

    def _column(self, columns: list[Any]) -> int:
        names = [str(c.get("name")) if isinstance(c, dict) else "?" for c in columns]
        if self.config.column is not None:
            if self.config.column not in names:
                raise ProviderError(
                    f"Log Analytics: the result has no column {self.config.column!r}; it has "
                    f"{', '.join(names) or 'none'}"
                )
            return names.index(self.config.column)
        if len(names) != 1:
            raise ProviderError(
                f"Log Analytics: the query returned {len(names)} columns ({', '.join(names)}); end "
                "it with "
                "`| project <one column>` or set `column:` in the metrics config"
            )
        return 0

    def query(self, query: str, window: Window) -> float:
        start, end = window.start - self._lag, window.end - self._lag
        table = self._run(query, f"{_iso(start)}/{_iso(end)}")
        columns, rows = table["columns"], table["rows"]
        idx = self._column(columns)
        if not rows:
            raise NoData("Log Analytics: the query returned no rows")
        if len(rows) > 1:
            raise ProviderError(
                f"Log Analytics: the query returned {len(rows)} rows; summarize it to one row "
                "(e.g. `| summarize sum(ItemCount)`)"
            )
        col = columns[idx]
        ctype = str(col.get("type", "")).lower()
        try:
            cell = rows[0][idx]
        except (IndexError, TypeError, KeyError) as exc:
            raise ProviderError(f"Log Analytics: malformed row {rows[0]!r}") from exc
        if cell is None:
            raise NoData(f"Log Analytics: column {col.get('name')!r} is null")
        if ctype not in NUMERIC or isinstance(cell, bool):
            raise ProviderError(
                f"Log Analytics: column {col.get('name')!r} is {ctype or 'untyped'}, not a number; "
                "convert it in KQL (toreal())"
            )
        try:
            value = float(cell)  # the service may send numbers as JSON strings ("1.286")
        except (TypeError, ValueError) as exc:
            raise ProviderError(
                f"Log Analytics: column {col.get('name')!r} holds {cell!r}, not a number"
            ) from exc
        if not math.isfinite(value):  # e.g. 0/0 in KQL
            raise NoData(f"Log Analytics: column {col.get('name')!r} is {cell}")
        return value

    def check(self) -> None:
        """Credentials and workspace id work: a query that reads no table."""
        table = self._run("print ok = 1", "PT5M")
        if not table["rows"]:
            raise ProviderError(
                f"Log Analytics workspace {self.config.workspace_id}: `print ok = 1` returned no "
                "rows"
            )


def build(config: Config, ctx: BuildContext) -> LogAnalyticsSource:
    from rollout.azure.rest import AzureClient

    client = AzureClient(
        scope=f"{config.endpoint}/.default",
        credential=ctx.extra.get("azure_credential"),
        transport=ctx.extra.get("http_transport"),
        sleep=ctx.extra.get("sleep"),
        timeout=config.timeout,
    )
    return LogAnalyticsSource(config, client)
