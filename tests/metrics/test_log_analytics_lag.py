"""Log Analytics ingestion lag and sampled telemetry (issue 13, point 7).

Windows are read back to back as the runner does, each as soon as it closes, against a
workspace whose rows arrive 2 minutes after their TimeGenerated. Without `lag:` the newest rows
of every window are missed and never counted again; with `lag: 3m` every row is counted once.
And `sum(ItemCount)` counts the requests sampled rows stand for; `count()` undercounts them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from rollout.metrics import Window
from rollout.registry import BuildContext, build
from tests.fakes.credential import FakeCredential
from tests.fakes.log_analytics import IngestingWorkspace

WS = "63613592-b6f7-4c3d-a390-22ba13102111"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUM = 'AppRequests | where Properties.variant == "candidate" | summarize sum(ItemCount)'
COUNT = 'AppRequests | where Properties.variant == "candidate" | summarize count()'


def source(ws: IngestingWorkspace, **options: Any) -> Any:
    ctx = BuildContext(
        plan_dir=Path("."),
        variants={},
        plan_name="p",
        extra={
            "azure_credential": FakeCredential(),
            "http_transport": httpx.MockTransport(ws),
            "sleep": lambda s: None,
        },
    )
    return build("metrics", {"type": "log-analytics", "workspace_id": WS, **options}, ctx)


def workspace() -> IngestingWorkspace:
    ws = IngestingWorkspace(WS)
    for second in range(0, 30 * 60, 10):  # a row every 10 s for 30 minutes, 2 min to arrive
        ws.add(T0 + timedelta(seconds=second), timedelta(minutes=2), item_count=4)
    return ws


def read_back_to_back(ws: IngestingWorkspace, src: Any, query: str, windows: int) -> float:
    total = 0.0
    for i in range(windows):
        win = Window(T0 + timedelta(minutes=i), T0 + timedelta(minutes=i + 1))
        ws.now = win.end  # read as soon as the window closes (the runner's tick)
        total += src.query(query, win)
    return total


def test_without_lag_the_newest_rows_are_missed_for_good() -> None:
    ws = workspace()
    got = read_back_to_back(ws, source(ws), SUM, 20)
    assert got == 0  # every row arrives 2 minutes late: nothing of any window has arrived


def test_lag_counts_every_row_once() -> None:
    ws = workspace()
    got = read_back_to_back(ws, source(ws, lag="3m"), SUM, 20)
    # Windows [i-3m, i-2m) for i = 0..19: minutes 0..16 (the first three fall before T0).
    assert got == 17 * 6 * 4


def test_sum_item_count_counts_sampled_requests_and_count_does_not() -> None:
    ws = workspace()
    src = source(ws, lag="3m")
    assert read_back_to_back(ws, src, SUM, 10) == 4 * read_back_to_back(ws, src, COUNT, 10)
