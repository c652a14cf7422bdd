"""Where things are in a YAML text: field path <-> (line, column), and duplicate keys.

Used by `load` so that every problem names the file, line, column and field path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from rollout.errors import Problem, SpecError

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def field_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Locator:
    """Field path -> (line, column) in the YAML text, found through the composed node tree."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: Any = None
        self._tried = False

    def tree(self) -> Any:
        if not self._tried:
            self._tried = True
            try:
                self._root = yaml.compose(self._text, Loader=Loader)
            except (yaml.YAMLError, RecursionError):  # best effort: no position, still an error
                self._root = None
        return self._root

    def find(self, loc: Sequence[str | int], *, key: bool = False) -> tuple[int | None, int | None]:
        node = self.tree()
        if node is None:
            return None, None
        best = node
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, yaml.MappingNode):
                hit = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
                if hit is None:
                    break
                node = hit[0] if (last and key) else hit[1]
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and part < len(node.value)
            ):
                node = node.value[part]
            else:
                break
            best = node
        return best.start_mark.line + 1, best.start_mark.column + 1

    def path_at(self, line: int, col: int) -> tuple[str | int, ...]:
        """The field path of the deepest node at 1-based (line, col); () if none."""
        node = self.tree()
        pos = (line - 1, col - 1)
        path: list[str | int] = []

        def inside(n: Any) -> bool:
            return (
                (n.start_mark.line, n.start_mark.column)
                <= pos
                < (n.end_mark.line, n.end_mark.column)
            )

        while node is not None:
            nxt = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.start_mark.line == pos[0] and not inside(v):
                        path.append(str(k.value))  # the key's own line: the field it names
                        return tuple(path)
                    if inside(v):
                        path.append(str(k.value))
                        nxt = v
                        break
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    if inside(item):
                        path.append(i)
                        nxt = item
                        break
            node = nxt
        return tuple(path)


def no_duplicate_keys(text: str, name: str) -> None:
    """YAML keeps the last of two equal keys without a word; in a plan that hides a mistake."""
    root = Locator(text).tree()
    problems: list[Problem] = []
    todo: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())] if root is not None else []
    while todo:
        node, loc = todo.pop()
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in node.value:
                key = str(k.value)
                if key in first and key != "<<":
                    problems.append(
                        Problem(
                            name,
                            k.start_mark.line + 1,
                            k.start_mark.column + 1,
                            field_path((*loc, key)),
                            f"duplicate key {key!r} (first at line {first[key]})",
                        )
                    )
                first.setdefault(key, k.start_mark.line + 1)
                todo.append((v, (*loc, key)))
        elif isinstance(node, yaml.SequenceNode):
            todo += [(item, (*loc, i)) for i, item in enumerate(node.value)]
    if problems:
        raise SpecError(sorted(problems, key=lambda p: p.line or 0))


_JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)


def template_site(raw: str, line: int | None, var: str | None) -> tuple[int | None, str]:
    """The column of the template expression using `var` on `line`, and the YAML field there."""
    lines = raw.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return None, ""
    col = None
    for m in _JINJA.finditer(lines[line - 1]):
        if var is None or re.search(rf"\b{re.escape(var)}\b", m.group()):
            col = m.start() + 1
            break

    # Blank out the template syntax (same length, newlines kept) so the raw file parses as
    # YAML with the same positions; then ask which field sits at (line, col).
    def blank(m: re.Match[str]) -> str:
        fill = "x" if m.group().startswith("{{") else " "
        return "".join(c if c == "\n" else fill for c in m.group())

    field = Locator(_JINJA.sub(blank, raw)).path_at(line, col or 1)
    return col, field_path(field) if field else ""
