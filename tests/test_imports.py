"""No import cycles in rollout/, lazy ones included: a cycle makes import order matter, hides a
module that does two jobs, and breaks the day someone moves an import to the top of a file.

The graph is read with `ast`: every `import` and `from ... import` anywhere in a module (inside
functions too) is an edge to the module it names; `from pkg import name` is an edge to
`pkg.name` when that is a module, else to `pkg`. Imports under `if TYPE_CHECKING:` never run and
are left out; `importlib.import_module("rollout.x")` (or an f-string with a constant prefix)
counts. A cycle is reported as its strongly connected component with one concrete loop.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rollout"

# Cycles tolerated for now, each as its set of modules: empty since the gates.evaluate <->
# sequential/threshold cycle was broken (gates.types). Never add one: break the cycle.
KNOWN: set[frozenset[str]] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under `if TYPE_CHECKING:`."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def edges(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    return edges_of(tree, name, path.name == "__init__.py", known)


def _dynamic(tree: ast.AST, known: set[str]) -> set[str]:
    """`importlib.import_module("rollout.x")` is an edge; with an f-string such as
    f"rollout.commands.{verb}", an edge to every module the constant prefix could name.
    (The registry's tables of provider modules are data, looked up by plan: not edges.)"""
    out: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called not in ("import_module", "__import__"):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            out.add(arg.value)
        elif isinstance(arg, ast.JoinedStr) and arg.values:
            head = arg.values[0]
            if isinstance(head, ast.Constant) and str(head.value).endswith("."):
                out |= {m for m in known if m.startswith(str(head.value))}
    return out


def edges_of(tree: ast.AST, name: str, is_pkg: bool, known: set[str]) -> set[str]:
    out: set[str] = {m for m in _dynamic(tree, known) if m in known and m != name}
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = name.split(".")
                anchor = anchor if is_pkg else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            while target and target not in known:  # `import rollout.a.b.attr` and the like
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


@functools.cache  # both cycle tests read the same tree: parse it once
def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: edges(name, path, known) for name, path in mods.items()}


def components(g: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    members = set()
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        members.add(m)
                        if m == node:
                            break
                    if len(members) > 1:
                        found.append(frozenset(members))
    return found


def loop(g: dict[str, set[str]], members: frozenset[str]) -> list[str]:
    """One concrete cycle inside a component: a -> b -> ... -> a (shortest from its first)."""
    start = min(members)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(g[node] & members):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(f"no loop in {sorted(members)}")


def describe(g: dict[str, set[str]], comps: list[frozenset[str]]) -> str:
    return "\n".join(
        f"  {' -> '.join(loop(g, c))}   (component: {', '.join(sorted(c))})"
        for c in sorted(comps, key=sorted)
    )


def test_no_new_import_cycle() -> None:
    g = graph()
    comps = components(g)
    new = [c for c in comps if c not in KNOWN]
    assert not new, "new import cycle(s) in rollout/ (lazy imports count):\n" + describe(g, new)
    gone = [c for c in KNOWN if c not in comps]
    assert not gone, "these known cycles are gone; remove them from KNOWN:\n" + "\n".join(
        f"  {sorted(c)}" for c in gone
    )


def test_no_import_cycle_at_all() -> None:
    g = graph()
    comps = components(g)
    assert not comps, "import cycles in rollout/:\n" + describe(g, comps)


# -- the graph reader itself ---------------------------------------------------------------


def test_lazy_relative_and_from_imports_are_edges_type_checking_is_not() -> None:
    source = """
from typing import TYPE_CHECKING
from rollout import registry
from rollout.records import Weights
from . import sibling
if TYPE_CHECKING:
    from rollout.views import status
def f():
    import rollout.commands.list_
    from ..state import sqlite
    importlib.import_module("rollout.views")
    importlib.import_module(f"rollout.state.{name}")
"""
    known = {
        "rollout",
        "rollout.registry",
        "rollout.records",
        "rollout.commands",
        "rollout.commands.sibling",
        "rollout.commands.list_",
        "rollout.commands.status",
        "rollout.state",
        "rollout.state.sqlite",
        "rollout.views",
        "rollout.views.status",
    }
    got = edges_of(ast.parse(source), "rollout.commands.status", False, known)
    assert got == {
        "rollout.registry",
        "rollout.records",
        "rollout.commands.sibling",
        "rollout.commands.list_",
        "rollout.state.sqlite",
        "rollout.views",
    }


def test_components_and_loops() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    (comp,) = components(g)
    assert comp == {"a", "b", "c"}
    assert loop(g, comp) == ["a", "b", "c", "a"]
