"""Located diagnostics: field path <-> (line, column) in a YAML text, duplicate keys, and
pydantic errors turned into `file:line:col: field: message` problems.

Every problem the loader reports goes through here, so every one names the file, line, column
and field path.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from rollout.errors import Problem, SpecError
from rollout.loading.read import Loader
from rollout.spec import PlanRuleErrors


def field_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Locator:
    """Field path -> (line, column) in the YAML text, found through the composed node tree."""

    def __init__(self, text: str, root: Any = None) -> None:
        self._text = text
        self._root: Any = root
        self._tried = root is not None

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
                and 0 <= part < len(node.value)
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
            start = (n.start_mark.line, n.start_mark.column)
            return start <= pos < (n.end_mark.line, n.end_mark.column)

        seen: set[int] = set()
        while node is not None and id(node) not in seen:  # aliases: never walk a cycle
            seen.add(id(node))
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


def no_duplicate_keys(root: Any, name: str) -> None:
    """YAML keeps the last of two equal keys without a word; in a plan that hides a mistake.

    Each node is looked at once: an alias refers to a node already walked (a visited set), so
    a chain of aliases costs its distinct nodes, not its expansion.
    """
    problems: list[Problem] = []
    todo: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())] if root is not None else []
    seen: set[int] = set()
    while todo:
        node, loc = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
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


# -- pydantic errors -> problems --------------------------------------------------------------


def problems_from(
    exc: ValidationError,
    text: str,
    name: str,
    root: type[BaseModel],
    prefix: tuple[str | int, ...] = (),
    locator: Locator | None = None,
) -> list[Problem]:
    locator = locator or Locator(text)
    problems: list[Problem] = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, PlanRuleErrors):
            for sub_loc, msg in ctx_error.problems:
                full = prefix + tuple(sub_loc)
                line, col = locator.find(full)
                problems.append(Problem(name, line, col, field_path(full), msg))
            continue
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            known = _fields_at(root, loc[len(prefix) : -1])
            msg = f"unknown key {_short(key)!r}" + _suggest(key, known)
        elif err["type"] == "missing":
            line, col = locator.find(loc[:-1])
            problems.append(Problem(name, line, col, field_path(loc), "required field is missing"))
            continue
        elif err["type"] == "literal_error":
            msg = f"{msg} (got {_short(repr(err.get('input')))})"
        line, col = locator.find(loc, key=err["type"] == "extra_forbidden")
        problems.append(Problem(name, line, col, field_path(loc), msg))
    return problems


def _short(text: str, limit: int = 80) -> str:
    """Echo user input, but not a megabyte of it."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) if len(key) < 200 else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return hint + (f"; valid keys: {', '.join(sorted(known))}" if known else "")


def _fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names (as written in YAML) of the model found by following `loc` from `model`."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return []
            current = field.annotation
        else:
            current = _item_type(current)
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else tp
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    return tp


def _item_type(tp: Any) -> Any:
    args = typing.get_args(_unwrap(tp))
    return args[-1] if args else None
