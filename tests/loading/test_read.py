"""rollout.loading.read: bounded files, prompts inside their root, bounded YAML expansion."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from rollout.errors import SpecError
from rollout.loading import read


def test_reads_a_regular_file_within_the_limit(tmp_path: Path) -> None:
    p = tmp_path / "f.yaml"
    p.write_bytes(b"a: 1\n")
    assert read.read_bounded(p, 10, "a plan file") == b"a: 1\n"


def test_a_file_over_the_limit_is_refused_with_the_limit_stated(tmp_path: Path) -> None:
    p = tmp_path / "f.yaml"
    p.write_bytes(b"x" * 11)
    with pytest.raises(SpecError) as info:
        read.read_bounded(p, 10, "a plan file")
    assert info.value.problems[0].message == "a plan file is 11 bytes; the limit is 10 bytes"


@pytest.mark.parametrize("kind", ["fifo", "dir", "device"])
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "x"
    if kind == "fifo":
        os.mkfifo(p)  # without O_NONBLOCK, opening it would wait for a writer forever
    elif kind == "dir":
        p.mkdir()
    else:
        p = Path("/dev/zero")
    with pytest.raises(SpecError, match="must be a regular file"):
        read.read_bounded(p, 1024, "a plan file")


def test_missing_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        read.read_text(tmp_path / "nope.yaml", "a plan file")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError, match="not UTF-8"):
        read.read_text(tmp_path / "bin.yaml", "a plan file")


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    d = tmp_path / "plan"
    (d / "prompts").mkdir(parents=True)
    (d / "prompts" / "v1.md").write_text("hello\n")
    return d


def test_a_prompt_inside_the_folder_is_hashed(plan_dir: Path) -> None:
    digest = read.prompt_digest("prompts/v1.md", plan_dir, plan_dir)
    assert digest == hashlib.sha256(b"hello\n").hexdigest()


def test_a_symlink_inside_the_folder_to_a_file_inside_is_fine(plan_dir: Path) -> None:
    (plan_dir / "prompts" / "current.md").symlink_to("v1.md")
    assert read.prompt_digest("prompts/current.md", plan_dir, plan_dir) == read.prompt_digest(
        "prompts/v1.md", plan_dir, plan_dir
    )


@pytest.mark.parametrize("prompt", ["../outside.md", "/etc/passwd", "prompts/../../outside.md"])
def test_a_prompt_outside_the_root_is_refused_before_it_is_opened(
    plan_dir: Path, prompt: str
) -> None:
    (plan_dir.parent / "outside.md").write_text("secret stuff\n")
    with pytest.raises(ValueError, match="is outside"):
        read.prompt_digest(prompt, plan_dir, plan_dir)


def test_a_symlink_out_of_the_root_is_refused_and_named(plan_dir: Path) -> None:
    (plan_dir.parent / "outside.md").write_text("x\n")
    (plan_dir / "prompts" / "link.md").symlink_to(plan_dir.parent / "outside.md")
    with pytest.raises(ValueError, match=r"a symlink to .*outside\.md\) is outside"):
        read.prompt_digest("prompts/link.md", plan_dir, plan_dir)


def test_prompt_root_widens_the_folder(plan_dir: Path) -> None:
    (plan_dir.parent / "shared.md").write_text("shared\n")
    assert read.prompt_digest("../shared.md", plan_dir, plan_dir.parent)


def test_a_prompt_over_the_limit_is_refused(plan_dir: Path) -> None:
    (plan_dir / "prompts" / "big.md").write_bytes(b"x" * (read.MAX_PROMPT_BYTES + 1))
    with pytest.raises(ValueError, match="the limit is 1 MiB"):
        read.prompt_digest("prompts/big.md", plan_dir, plan_dir)


def _chain(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_shared_blocks_below_the_budget_parse() -> None:
    data = read.parse_yaml(_chain(4), "p.yaml")  # 10**4 expanded leaves: fine
    assert len(data["a3"]) == 10 and data["a3"][0][0][0] == ["x"] * 10


def test_an_alias_chain_is_refused_by_its_expanded_size_at_its_line() -> None:
    with pytest.raises(SpecError) as info:
        read.parse_yaml(_chain(9), "p.yaml")
    [p] = info.value.problems
    assert "expand to more than 100,000 nodes" in p.message and p.line is not None


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(SpecError, match="refers to itself"):
        read.parse_yaml("a: &a [1, *a]\n", "p.yaml")


def test_deep_nesting_is_refused() -> None:
    text = "a: " + "[" * 70 + "]" * 70 + "\n"
    with pytest.raises(SpecError, match="nested more than 64 levels"):
        read.parse_yaml(text, "p.yaml")


def test_malformed_yaml_is_located() -> None:
    with pytest.raises(SpecError) as info:
        read.parse_yaml("a: [1, 2\nb: 3\n", "p.yaml")
    [p] = info.value.problems
    assert p.line is not None and p.message.startswith("malformed YAML")
