"""The installable name: every install line in the repo names the distribution pyproject.toml
builds (`rollout` on PyPI is an unrelated 2011 package, a dependency-confusion risk), the
version has one source, and the README's install line resolves to this project's wheel."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import rollout
from rollout import registry

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DIST = PYPROJECT["project"]["name"]
EXTRAS = set(PYPROJECT["project"]["optional-dependencies"])

SKIP_DIRS = {".git", "build", "dist", "node_modules", "__pycache__"}
TEXT = {".md", ".py", ".yml", ".yaml", ".toml", ".txt", ".cfg", ".sh", ".j2", ".html", ""}
# Not ours, and meant: pip itself, and the example plugin of docs/plugins.md.
# prometheus_client goes into .ci/run's side venv for LiteLLM's proxy (its metrics endpoint).
OTHERS = {"pip", "rollout-mygateway", "prometheus_client"}
# Options of `pip install` that take a value (the value is not a requirement).
VALUED = {"-r", "-c", "-e", "-i", "-t", "--index-url", "--find-links", "-f", "--target"}
PIP_INSTALL = re.compile(r"pip install\b(.*)")


def repo_files() -> list[Path]:
    """Every text file of the repository (venvs, build output and caches pruned, not walked)."""
    found = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [
            d
            for d in dirs
            if d not in SKIP_DIRS and not d.startswith(".venv") and not d.endswith(".egg-info")
        ]
        for name in files:
            path = Path(top) / name
            if path.suffix in TEXT and path != Path(__file__).resolve():
                found.append(path)
    return found


def requirements(rest: str) -> list[str]:
    """The requirement tokens of one `pip install ...` (paths and options left out)."""
    out: list[str] = []
    skip_next = False
    for raw in rest.split():
        if raw in ("&&", ";", "|", "#", "||") or raw.startswith("#"):
            break
        tok = raw.strip("'\"`(),:")
        ends = any(c in raw for c in "`)")  # the end of an inline `code` span or a (...)
        if skip_next:
            skip_next = False
        elif tok.startswith("-"):
            skip_next = tok in VALUED
        elif tok and not tok.startswith((".", "/", "~", "$")) and "/" not in tok.split("[")[0]:
            out.append(tok)
        if ends:
            break
    return out


def install_lines() -> list[tuple[str, int, str]]:
    """(file, line number, requirement) for every named requirement of every install line."""
    found = []
    for path in repo_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            for m in PIP_INSTALL.finditer(line):
                for req in requirements(m.group(1)):
                    found.append((str(path.relative_to(ROOT)), n, req))
    return found


def name_and_extras(req: str) -> tuple[str, set[str]]:
    m = re.match(r"([A-Za-z0-9_.{}-]+)(?:\[([^\]]*)\])?", req)
    assert m, req
    extras = {e.strip() for e in (m.group(2) or "").split(",") if e.strip()}
    return m.group(1), extras


def test_the_distribution_is_ours_and_named_in_one_place() -> None:
    assert DIST == "rollout-llm"  # not "rollout": that name on PyPI is someone else's
    assert registry.DIST == DIST  # the "pip install ..." hint in provider errors
    assert PYPROJECT["project"]["scripts"] == {"rollout": "rollout.cli:main"}


def test_one_version_source() -> None:
    from importlib.metadata import version

    assert "version" in PYPROJECT["project"]["dynamic"]
    assert "version" not in PYPROJECT["project"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "rollout.__version__"
    assert version(DIST) == rollout.__version__  # the installed metadata agrees


def test_every_install_line_names_this_distribution() -> None:
    lines = install_lines()
    assert any(f == "README.md" for f, _, _ in lines), "the README's install line was not found"
    wrong = []
    for file, n, req in lines:
        name, extras = name_and_extras(req)
        if name == "{DIST}" and file == "rollout/registry.py":
            name = DIST  # the f-string hint: pip install '{DIST}[extra]'
        if name in OTHERS or not re.sub(r"[-_.]+", "-", name.lower()).startswith("rollout"):
            continue  # a third-party package (LiteLLM, pip): not an install of this project
        if name != DIST:
            wrong.append(f"{file}:{n}: pip install {req} (the distribution is {DIST})")
        elif not extras <= EXTRAS and "{" not in req:
            wrong.append(f"{file}:{n}: {req}: no such extra (pyproject has {sorted(EXTRAS)})")
    assert not wrong, "\n".join(wrong)


def test_the_scan_would_notice_the_old_name() -> None:
    assert requirements(" 'rollout[azure,postgres]'") == ["rollout[azure,postgres]"]
    assert requirements(" -q -e '.[dev,azure,postgres]' && rollout apply x") == []
    assert requirements(" 'rollout-llm[azure]'\"") == ["rollout-llm[azure]"]
    assert name_and_extras("rollout[azure]") == ("rollout", {"azure"})


def readme_install_line() -> str:
    """The README's install-from-the-index line (a shell line in a fenced block)."""
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("pip install ") and DIST in line:
            return line
    raise AssertionError(f"README.md has no `pip install '{DIST}[...]'` line")


@pytest.mark.slow
def test_the_readme_install_line_resolves_to_this_project(tmp_path: Path) -> None:
    # Build this tree's wheel from a copy (no build/ or egg-info left in the working tree),
    # then let pip resolve the README's line against a local index holding only that wheel.
    src = tmp_path / "src"
    shutil.copytree(ROOT / "rollout", src / "rollout", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(src)], check=True)
    (wheel,) = wheels.glob("*.whl")
    assert wheel.name.startswith("rollout_llm-" + rollout.__version__)

    line = readme_install_line()
    (req,) = requirements(line.removeprefix("pip install"))
    report = tmp_path / "report.json"
    subprocess.run(
        [
            *pip,
            "install",
            "--dry-run",
            "--no-index",
            "--find-links",
            str(wheels),
            "--no-deps",
            "--ignore-installed",
            "--report",
            str(report),
            req,
        ],
        check=True,
    )
    (item,) = json.loads(report.read_text())["install"]
    assert item["metadata"]["name"] == DIST
    assert item["metadata"]["version"] == rollout.__version__
    assert item["download_info"]["url"] == wheel.as_uri()
    assert set(name_and_extras(req)[1]) <= set(item["metadata"]["provides_extra"])


# -- the habits around the package: one definition of CI, pre-commit running the same checks ----


def test_github_ci_only_calls_ci_run() -> None:
    import yaml

    wf = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    assert wf["concurrency"]["group"] and wf["concurrency"]["cancel-in-progress"] is True
    (job,) = wf["jobs"].values()
    assert 0 < job["timeout-minutes"] <= 90
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs == ["bash .ci/run"], "CI is defined once, in .ci/run"


def test_pre_commit_runs_what_ci_runs() -> None:
    import yaml

    cfg = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert {r["repo"] for r in cfg["repos"]} == {"local"}  # nothing to download: works offline
    hooks = {h["id"]: h for r in cfg["repos"] for h in r["hooks"]}
    assert {h["language"] for h in hooks.values()} == {"system"}
    ci = (ROOT / ".ci/run").read_text()
    for hook, command in (
        ("ruff-check", "ruff check"),
        ("ruff-format", "ruff format"),
        ("mypy", "mypy"),
    ):
        assert hooks[hook]["entry"].startswith(f".venv/bin/{command}")
        assert f".venv/bin/{command}" in ci
    assert ".venv/bin/ruff format --check rollout tests benchmarks examples" in ci
    try:
        from pre_commit.clientlib import load_config
    except ImportError:  # pragma: no cover - pre-commit is a dev dependency
        return
    load_config(str(ROOT / ".pre-commit-config.yaml"))  # raises on an invalid config


def test_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text and "keepachangelog.com" in text
