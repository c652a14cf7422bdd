"""Every test a document names (`tests/x.py::test_name`) exists: the docs say what shows what,
and a renamed or removed test must take its claim with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md")])
REF = re.compile(r"(tests/[\w/]+\.py)(?:::(\w+))?")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)  # code blocks: a plugin author's own files


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_named_test_exists(doc: Path) -> None:
    missing = []
    for path, name in REF.findall(FENCE.sub("", doc.read_text())):
        file = ROOT / path
        if not file.is_file():
            missing.append(path)
        elif name and not re.search(rf"def {name}\b", file.read_text()):
            missing.append(f"{path}::{name}")
    assert not missing, f"{doc.name} names tests that do not exist: {missing}"
