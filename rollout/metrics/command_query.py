"""The command source's query language: a small arithmetic expression over one variant's JSON.

    "{{ variant }}.score * {{ variant }}.n"      ->  candidate.score * candidate.n

`+ - * / **`, parentheses, numbers, and fields written `VARIANT.field`, `VARIANT.a.b` or
`VARIANT["odd-name"]`. Parsed with `ast` and checked against a whitelist of node types, never
`eval`. A null, NaN or a division by zero is NoData (inconclusive); a missing or non-numeric field
is a ProviderError: a failing evaluation is never a pass.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from rollout.errors import NoData, ProviderError

VARIANTS = ("baseline", "candidate")


_OPS: dict[type, Any] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}

_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Load,
    ast.USub,
    ast.UAdd,
    *_OPS,
)


def parse_query(query: str) -> tuple[ast.Expression, str]:
    """The parsed expression and the one variant it reads; ProviderError if it is not valid."""
    hint = 'write fields as {{ variant }}.field, e.g. "{{ variant }}.score * {{ variant }}.n"'
    try:
        tree = ast.parse(query.strip(), mode="eval")
    except SyntaxError:
        raise ProviderError(f"command query {query!r} is not an expression; {hint}") from None
    variants: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in VARIANTS:
                raise ProviderError(
                    f"command query {query!r}: {node.id!r} is not a variant; {hint}"
                )
            variants.add(node.id)
        elif not isinstance(node, _ALLOWED):
            raise ProviderError(
                f"command query {query!r}: {type(node).__name__} is not allowed; {hint}"
            )
    if len(variants) != 1:
        raise ProviderError(f"command query {query!r} must read exactly one variant; {hint}")
    return tree, variants.pop()


def evaluate(node: ast.AST, output: dict[str, Any], query: str) -> float:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ProviderError(f"command query {query!r}: only numbers may appear as constants")
        return float(node.value)
    if isinstance(node, ast.UnaryOp):
        v = evaluate(node.operand, output, query)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a, b = evaluate(node.left, output, query), evaluate(node.right, output, query)
        try:
            v = float(_OPS[type(node.op)](a, b))
        except ZeroDivisionError:
            raise NoData(f"{query}: division by zero (no samples?)") from None
        except OverflowError:
            raise ProviderError(f"command query {query!r} overflowed") from None
        if math.isnan(v):
            raise NoData(f"{query}: not a number")
        return v
    path = _path(node, query)
    value: Any = output
    for i, part in enumerate(path):
        if not isinstance(value, dict) or part not in value:
            where = ".".join(path[: i + 1])
            keys = (
                ", ".join(sorted(value)) if isinstance(value, dict) else f"a {type(value).__name__}"
            )
            raise ProviderError(
                f"command output has no field {where!r} (query {query!r}; it has: {keys})"
            )
        value = value[part]
    if value is None:
        raise NoData(f"{query}: the command reported null")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProviderError(
            f"command output field {'.'.join(path)!r} is {value!r}, not a number (query {query!r})"
        )
    if math.isnan(value):
        raise NoData(f"{query}: the command reported NaN")
    return float(value)


def _path(node: ast.AST, query: str) -> list[str]:
    """`candidate.a.b` / `candidate["x"]` -> ["a", "b"] / ["x"] (the variant is checked)."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            parts.append(node.slice.value)
            node = node.value
        elif isinstance(node, ast.Name):
            break
        else:
            raise ProviderError(
                f"command query {query!r}: cannot read a field from {ast.unparse(node)!r}"
            )
    if not parts:
        raise ProviderError(
            f"command query {query!r}: name a field, e.g. {ast.unparse(node)}.score"
        )
    return parts[::-1]
