"""The HTML report opened in a real headless browser (Debian's chromium): no console errors, and
every chart present and laid out with its series.

Skipped when chromium is not installed, unless ROLLOUT_REQUIRE_CHROMIUM=1 (.ci/run sets it and
installs the package), which makes a missing browser a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.commands.conftest import Workspace
from tests.report.conftest import rolled_back

pytestmark = pytest.mark.slow

# Measures what the browser laid out; appended to a copy of the page (the report has no script).
PROBE = """<script>
const charts = [...document.querySelectorAll("svg.chart")].map((svg) => {
  const box = svg.getBoundingClientRect();
  const drawn = [...svg.querySelectorAll("path[data-series]")]
    .filter((p) => { const b = p.getBBox(); return b.width > 0 || b.height > 0; })
    .map((p) => p.dataset.series);
  return `${svg.id}=${Math.round(box.width)}x${Math.round(box.height)}:${drawn.join("|")}`;
});
document.body.setAttribute("data-laid-out", charts.join(";"));
</script>"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("ROLLOUT_REQUIRE_CHROMIUM") == "1":
            pytest.fail("ROLLOUT_REQUIRE_CHROMIUM=1 but chromium is not installed (see .ci/run)")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return path


def open_in_browser(page: Path, profile: Path) -> tuple[str, list[str]]:
    """(the DOM after load, the console messages chromium logged)."""
    proc = subprocess.run(
        [
            chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


class _Svgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[str]] = {}
        self._in: str | None = None
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key):
                self.external.append(f"{tag} {key}={a[key]}")
        if tag == "svg":
            self._in = a.get("id") or ""
            self.charts[self._in] = []
        elif tag == "path" and self._in is not None and a.get("data-series"):
            self.charts[self._in].append(a["data-series"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in = None


@pytest.fixture
def report_page(ws: Workspace) -> Path:
    res = rolled_back(ws).cli("report", "demo", "--format", "html")
    assert res.code == 0
    page = ws.root / "report.html"
    page.write_text(res.out, encoding="utf-8")
    return page


def test_console_errors_are_seen_by_this_harness(tmp_path: Path) -> None:
    """The control: a page that logs an error and throws is caught, so the check below can fail."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><p>x</p><script>console.error('probe'); undefinedThing()</script>"
    )
    _, console = open_in_browser(page, tmp_path / "profile")
    assert any('"probe"' in line for line in console)
    assert any("Uncaught ReferenceError" in line for line in console)


def test_the_html_report_opens_without_console_errors_and_with_its_charts(
    report_page: Path, tmp_path: Path
) -> None:
    dom, console = open_in_browser(report_page, tmp_path / "profile")
    assert console == []
    svgs = _Svgs()
    svgs.feed(dom)
    assert svgs.external == []  # nothing fetched: no script, stylesheet or image to load
    assert svgs.charts == {
        "weights": ["candidate weight"],
        "values-0": [
            "baseline band",
            "candidate band",
            "baseline",
            "candidate",
            "bound (max_ratio 1.25)",
        ],
        "evidence-0": [
            "evidence of harm (max_ratio)",
            "evidence of safety (max_ratio)",
            "needed 20x (max_ratio)",
        ],
    }
    assert "<script" not in report_page.read_text()
    assert "Time per stage" in dom and "Timeline" in dom


def test_every_chart_is_laid_out_with_each_series_drawn(report_page: Path, tmp_path: Path) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(report_page.read_text().replace("</body>", PROBE + "</body>"))
    dom, console = open_in_browser(probed, tmp_path / "profile")
    assert console == []
    m = re.search(r'data-laid-out="([^"]*)"', dom)
    assert m, "the probe did not run"
    laid = dict(item.split("=", 1) for item in m.group(1).split(";"))
    assert set(laid) == {"weights", "values-0", "evidence-0"}
    for chart, what in laid.items():
        size, drawn = what.split(":", 1)
        width, height = (int(v) for v in size.split("x"))
        assert width >= 300 and height >= 100, (chart, size)
        assert drawn, chart
    drawn = {chart: set(what.split(":", 1)[1].split("|")) for chart, what in laid.items()}
    assert {"baseline", "candidate", "bound (max_ratio 1.25)"} <= drawn["values-0"]
    assert {"evidence of harm (max_ratio)", "needed 20x (max_ratio)"} <= drawn["evidence-0"]
