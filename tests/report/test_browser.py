"""The HTML report opened in a real headless browser (Debian's chromium): no console errors, and
every chart present and laid out with its series. And the mermaid charts of the markdown report
and the job summaries (the golden files) rendered by mermaid itself, in the same browser, as
GitHub renders them: a chart GitHub could not draw would be a parse error here.

Skipped when chromium is not installed, unless ROLLOUT_REQUIRE_CHROMIUM=1 (.ci/run sets it and
installs the package), which makes a missing browser a failure. mermaid comes from npm (`npm
pack` of one pinned release, its integrity checked; cached in ~/.cache/rollout-tests).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
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


def open_in_browser(page: Path, profile: Path, *, wait: bool = False) -> tuple[str, list[str]]:
    """(the DOM after load, the console messages chromium logged). `wait`: let the page's
    asynchronous work finish first (virtual time, so no wall-clock wait)."""
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
            *(["--virtual-time-budget=30000"] if wait else []),
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


MERMAID_VERSION = "11.12.2"
MERMAID_INTEGRITY = (
    "sha512-n34QPDPEKmaeCG4WDMGy0OT6PSyxKCfy2pJgShP+Qow2KLrvWjcl"
    "wbc3yXfSIf4BanqWEhQEpngWwNp/XhZt6w=="
)
EXPECTED = Path(__file__).parent / "expected"

# Renders every block with mermaid.render and writes into the DOM, per block, the number of
# vertices of each line plot drawn (or the error).
RENDER = """<script>
(async () => {
  mermaid.initialize({startOnLoad: false});
  const blocks = JSON.parse(document.getElementById("blocks").textContent);
  const out = [];
  for (const [i, code] of blocks.entries()) {
    try {
      const {svg} = await mermaid.render("m" + i, code);
      const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
      const plots = [...doc.querySelectorAll('[class^="line-plot-"] path')];
      out.push("ok " + plots.map((p) => (p.getAttribute("d").match(/[ML]/g) || []).length));
    } catch (e) {
      out.push("error " + String(e.message || e).split("\\n").join(" | "));
    }
  }
  document.body.setAttribute("data-rendered", JSON.stringify(out));
})();
</script>"""


def mermaid_js() -> Path:
    """dist/mermaid.min.js of the pinned release, from npm, integrity checked."""
    where = Path(
        os.environ.get("ROLLOUT_MERMAID_DIR")
        or Path.home() / ".cache" / "rollout-tests" / f"mermaid-{MERMAID_VERSION}"
    )
    js = where / "mermaid.min.js"
    if js.exists():
        return js
    if shutil.which("npm") is None:
        if os.environ.get("ROLLOUT_REQUIRE_CHROMIUM") == "1":
            pytest.fail("ROLLOUT_REQUIRE_CHROMIUM=1 but npm is not installed (see .ci/run)")
        pytest.skip("npm is not installed: mermaid (npm package) not fetched")
    where.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [
                "npm",
                "pack",
                "--silent",
                "--pack-destination",
                str(where),
                f"mermaid@{MERMAID_VERSION}",
            ],
            check=True,
            timeout=300,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        if os.environ.get("ROLLOUT_REQUIRE_CHROMIUM") == "1":
            raise
        pytest.skip(f"could not fetch mermaid from npm: {exc}")
    tgz = where / f"mermaid-{MERMAID_VERSION}.tgz"
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
    assert digest == MERMAID_INTEGRITY, f"{tgz}: integrity {digest}, expected {MERMAID_INTEGRITY}"
    with tarfile.open(tgz) as tar:
        member = tar.extractfile("package/dist/mermaid.min.js")
        assert member is not None
        part = js.with_suffix(".part")
        part.write_bytes(member.read())
        part.replace(js)
    tgz.unlink()
    return js


def render_mermaid(blocks: list[str], tmp_path: Path) -> list[str]:
    js = mermaid_js()
    data = json.dumps(blocks).replace("</", "<\\/")
    page = tmp_path / "mermaid.html"
    page.write_text(
        f'<!doctype html><html><body><script src="{js.as_uri()}"></script>'
        f'<script type="application/json" id="blocks">{data}</script>{RENDER}</body></html>',
        encoding="utf-8",
    )
    dom, _ = open_in_browser(page, tmp_path / "profile", wait=True)
    m = re.search(r'data-rendered="([^"]*)"', dom)
    assert m, "the mermaid page did not finish"
    rendered: list[str] = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return rendered


def test_the_markdown_charts_render_in_mermaid_as_github_draws_them(tmp_path: Path) -> None:
    blocks: list[tuple[str, str]] = []
    for path in sorted(EXPECTED.glob("*.md")):
        found = re.findall(r"```mermaid\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
        blocks += [(path.name, b) for b in found]
    # every golden file has the weights chart; the reports add two per gate
    assert len(blocks) == 2 + 3 + 3
    broken = "xychart-beta\n    line [1, 2\n"  # the control: mermaid's parse errors are seen
    got = render_mermaid([b for _, b in blocks] + [broken], tmp_path)
    assert got[-1].startswith("error Parse error")
    names = [n for n, _ in blocks]
    # one plot per line series, with a vertex per value (mermaid once dropped the last one)
    want = [
        "ok " + ",".join(str(v.count(",") + 1) for v in re.findall(r"\n    line \[(.*)\]", b))
        for _, b in blocks
    ]
    assert list(zip(names, got[:-1], strict=True)) == list(zip(names, want, strict=True))
