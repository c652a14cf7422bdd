"""Bounded reading: plan files, var files and prompt files, and YAML with bounded aliases.

A plan comes from pull requests and templates, so nothing it names is trusted: a file is read
only if it is a regular file under a size limit (never a FIFO, a device or /dev/zero), prompts
only from inside the plan's folder (or an explicit `prompt_root`) after symlinks are resolved,
and YAML aliases are expanded only up to a node budget (a "billion laughs" plan is an error,
not a hang). Every failure is a located SpecError.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from rollout.errors import Problem, SpecError

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_PLAN_BYTES = 1024 * 1024  # a plan, a var file or the rendered plan text
MAX_PROMPT_BYTES = 1024 * 1024
# Nodes after alias expansion. Real plans have a few hundred; safe loaders (go-yaml, ruamel's
# "max alias" guards) cap expansion the same way, so sharing a block stays legal.
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64  # nesting of mappings and sequences


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


def read_bounded(path: Path, limit: int, what: str, *, shown: str | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; SpecError otherwise.

    O_NONBLOCK so that opening a FIFO cannot hang; fstat on the open descriptor so that the
    file checked is the file read.
    """
    name = shown or str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SpecError([Problem(name, None, None, "", "no such file")]) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise SpecError([Problem(name, None, None, "", f"cannot read: {_why(exc)}")]) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SpecError(
                [Problem(name, None, None, "", f"{what} must be a regular file ({_kind(st)})")]
            )
        if st.st_size > limit:
            raise SpecError([Problem(name, None, None, "", _too_big(what, st.st_size, limit))])
        chunks: list[bytes] = []
        got = 0
        while True:  # a file that grows while read is cut at the limit, not followed
            chunk = os.read(fd, min(65536, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got > limit:
                raise SpecError([Problem(name, None, None, "", _too_big(what, got, limit))])
        return b"".join(chunks)
    except OSError as exc:
        raise SpecError([Problem(name, None, None, "", f"cannot read: {_why(exc)}")]) from None
    finally:
        os.close(fd)


def read_text(path: Path, what: str, limit: int = MAX_PLAN_BYTES) -> str:
    data = read_bounded(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            [Problem(str(path), None, None, "", f"cannot read: not UTF-8 text ({exc.reason})")]
        ) from None


def _too_big(what: str, size: int, limit: int) -> str:
    stated = (
        f"{_mib(limit)} ({limit:,} bytes)" if limit % (1024 * 1024) == 0 else f"{limit:,} bytes"
    )
    return f"{what} is {size:,} bytes; the limit is {stated}"


def _kind(st: os.stat_result) -> str:
    mode = st.st_mode
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return f"this is {word}"
    return "this is not a regular file"


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


# -- prompts ----------------------------------------------------------------------------------


def prompt_digest(prompt: str, plan_dir: Path, root: Path) -> str:
    """sha256 of a prompt file that lies inside `root` (symlinks resolved); ValueError says why."""
    return hashlib.sha256(plan_file(prompt, plan_dir, root)).hexdigest()


def plan_file(
    name: str, plan_dir: Path, root: Path, what: str = "prompt file", limit: int = MAX_PROMPT_BYTES
) -> bytes:
    """The bytes of a file a plan names (a prompt, a judge's grades): relative to the plan's
    folder, inside `root` after symlinks are resolved, regular and bounded; ValueError says why."""
    p = Path(name)
    p = p if p.is_absolute() else plan_dir / p
    root_real = root.resolve()
    if not Path(os.path.abspath(p)).is_relative_to(Path(os.path.abspath(root))):
        raise ValueError(_outside(p, "", root_real, what))  # `..` and absolute paths, before I/O
    try:
        real = p.resolve(strict=True)
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {p}") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise ValueError(f"{what} {p} cannot be resolved: {_why(exc)}") from None
    if not real.is_relative_to(root_real):
        raise ValueError(_outside(p, f" (a symlink to {real})", root_real, what))
    try:
        return read_bounded(real, limit, f"a {what}", shown=str(p))
    except SpecError as exc:
        raise ValueError(exc.problems[0].message + f": {p}") from None


def _outside(p: Path, via: str, root: Path, what: str) -> str:
    if what == "prompt file":
        return (
            f"prompt file {p}{via} is outside {root}; prompts are plan files: keep them "
            "in the plan's folder, or set prompt_root to the folder that holds them"
        )
    return f"{what} {p}{via} is outside {root}; keep it in the plan's folder"


# -- YAML -------------------------------------------------------------------------------------


def compose(text: str, name: str) -> Any:
    """The YAML node tree (None for an empty document); located SpecError when malformed."""
    loader = Loader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_yaml_problem(exc, name)]) from None
    except (yaml.YAMLError, RecursionError) as exc:
        msg = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise SpecError([Problem(name, None, None, "", f"malformed YAML: {msg}")]) from None
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError, name: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    col = mark.column + 1 if mark else None
    msg = exc.problem or exc.context or "malformed YAML"
    ctx = exc.context_mark
    if exc.context and ctx is not None and exc.problem:
        # e.g. "did not find expected ',' or ']' (while parsing a flow sequence from line 15)"
        msg += f" ({exc.context} from line {ctx.line + 1})"
    return Problem(name, line, col, "", f"malformed YAML: {msg}")


def check_expansion(root: Any, name: str) -> None:
    """Refuse alias cycles, nesting beyond MAX_DEPTH and more than MAX_EXPANDED_NODES nodes
    once aliases are expanded. Linear in the distinct nodes: sizes are memoised per node."""
    if root is None:
        return
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    # Iterative post-order walk (a deep plan must not exhaust the Python stack).
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        kids = _children(node)
        if done:
            on_path.discard(nid)
            size[nid] = 1 + sum(size[id(k)] for k in kids)
            depth[nid] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[nid] > MAX_EXPANDED_NODES:
                raise SpecError([_at(node, name, _expansion_msg())])
            if depth[nid] > MAX_DEPTH:
                raise SpecError(
                    [_at(node, name, f"nested more than {MAX_DEPTH} levels deep; a plan is flat")]
                )
            continue
        if nid in size:
            continue
        if nid in on_path:
            raise SpecError([_at(node, name, "a YAML alias refers to itself (a cycle)")])
        on_path.add(nid)
        stack.append((node, True))
        for k in kids:
            kid = id(k)
            if kid in on_path:
                raise SpecError([_at(k, name, "a YAML alias refers to itself (a cycle)")])
            if kid not in size:
                stack.append((k, False))


def _expansion_msg() -> str:
    return (
        f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes; "
        "write the values out or share less"
    )


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _at(node: Any, name: str, message: str) -> Problem:
    m = node.start_mark
    return Problem(name, m.line + 1, m.column + 1, "", message)


def construct(root: Any, text: str, name: str) -> Any:
    """Python data from a node tree that passed check_expansion."""
    if root is None:
        return None
    loader = Loader(text)
    try:
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_yaml_problem(exc, name)]) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise SpecError([Problem(name, None, None, "", f"malformed YAML: {exc}")]) from None
    finally:
        loader.dispose()


def parse_yaml(text: str, name: str) -> Any:
    """compose + bounded expansion + construct: what `yaml.safe_load` does, with limits."""
    root = compose(text, name)
    check_expansion(root, name)
    return construct(root, text, name)
