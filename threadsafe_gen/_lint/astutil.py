"""Small helpers over :mod:`ast` nodes shared by the lint rules (no rule logic here)."""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = [
    "BLOCK_FIELDS",
    "FunctionNode",
    "body_without_docstring",
    "const_int",
    "contains_yield",
    "expressions_on_lines",
    "first_param",
    "flatten_targets",
    "is_main_guard",
    "is_stub",
    "iter_statements",
    "match_lines",
    "mentions",
    "method_calls",
    "pairs",
    "reachable_methods",
    "returned_parts",
    "self_attr",
    "undecorate",
    "walk_local",
]

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

#: Fields of a statement that hold nested statements (visited on their own).
BLOCK_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})


def is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def body_without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    """*body* without its leading docstring."""
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def is_stub(body: list[ast.stmt]) -> bool:
    """``...``, ``pass`` or a lone ``raise``: a method body that serves nothing."""
    rest = body_without_docstring(body)
    if not rest:
        return True
    if len(rest) != 1:
        return False
    s = rest[0]
    if isinstance(s, ast.Pass):
        return True
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is ...:
        return True
    # A body that only raises (abstract, or "not subscriptable") serves no data.
    return isinstance(s, ast.Raise)


def walk_local(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Walk nodes without entering nested functions, lambdas or classes."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            stack.append(child)


def match_lines(pattern: re.Pattern[bytes], raw: bytes) -> list[int]:
    """Sorted 1-based line numbers where *pattern* matches in *raw*."""
    out: list[int] = []
    line, pos = 1, 0
    for m in pattern.finditer(raw):
        line += raw.count(b"\n", pos, m.start())
        pos = m.start()
        if not out or out[-1] != line:
            out.append(line)
    return out


def iter_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones included (function and class bodies too)."""
    stack: list[ast.stmt] = list(reversed(body))
    while stack:
        stmt = stack.pop()
        yield stmt
        nested: list[ast.stmt] = []
        for field in ("body", "orelse", "finalbody"):
            sub = getattr(stmt, field, None)
            if isinstance(sub, list):
                nested.extend(sub)
        for h in getattr(stmt, "handlers", None) or ():
            nested.extend(h.body)
        for case in getattr(stmt, "cases", None) or ():
            nested.extend(case.body)
        stack.extend(reversed(nested))


def expressions_on_lines(body: list[ast.stmt], lines: list[int]) -> Iterator[ast.AST]:
    """Expression nodes of the statements in *body* that span any of *lines* (sorted)."""
    for stmt in iter_statements(body):
        lo = stmt.lineno
        hi = stmt.end_lineno or lo
        i = bisect.bisect_left(lines, lo)
        if i == len(lines) or lines[i] > hi:
            continue
        for field, value in ast.iter_fields(stmt):
            if field in BLOCK_FIELDS:
                continue  # nested statements are visited on their own
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, ast.AST):
                    yield from ast.walk(v)


def contains_yield(fn: FunctionNode) -> bool:
    """True when *fn* itself (not a nested function) yields: it is a generator function."""
    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in walk_local(fn.body))


def self_attr(node: ast.AST, self_name: str) -> str | None:
    """``x`` when *node* is ``<self_name>.x``, else ``None``."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == self_name
    ):
        return node.attr
    return None


def const_int(node: ast.AST | None) -> int | None:
    """The value of an integer literal, else ``None``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return int(node.value)
    return None


def undecorate(d: ast.expr) -> ast.expr:
    """The decorator itself: ``deco`` for both ``@deco`` and ``@deco(...)``."""
    return d.func if isinstance(d, ast.Call) else d


def pairs(
    targets: Sequence[ast.expr], value: ast.expr | None
) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(target, value) pairs, unpacking ``self.a, self.b = x, y``."""
    if value is None:
        return
    for t in targets:
        if isinstance(t, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
            if len(t.elts) == len(value.elts):
                yield from zip(t.elts, value.elts, strict=True)
        else:
            yield t, value


def flatten_targets(targets: Sequence[ast.expr]) -> Iterator[ast.expr]:
    """Assignment targets with tuples, lists and ``*rest`` unpacked."""
    for t in targets:
        if isinstance(t, (ast.Tuple, ast.List)):
            yield from flatten_targets(t.elts)
        elif isinstance(t, ast.Starred):
            yield t.value
        else:
            yield t


def returned_parts(value: ast.expr) -> Iterator[ast.expr]:
    """What a return value hands out as-is: itself, tuple items, and slice views."""
    if isinstance(value, (ast.Tuple, ast.List)):
        for elt in value.elts:
            yield from returned_parts(elt)
    elif isinstance(value, ast.Subscript):
        if any(isinstance(n, ast.Slice) for n in ast.walk(value.slice)):
            yield value.value  # a view of the same memory
    else:
        yield value


def mentions(node: ast.AST, names: set[str]) -> bool:
    """True when *node* reads or writes any of *names*."""
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def first_param(fn: FunctionNode) -> str | None:
    """The name of *fn*'s first positional parameter (``self`` in a method), if any."""
    params = fn.args.posonlyargs + fn.args.args
    return params[0].arg if params else None


def method_calls(fn: FunctionNode) -> Iterator[tuple[str, ast.Call]]:
    """``(name, call)`` for each ``self.name(...)`` call in *fn* (its first parameter is self)."""
    me = first_param(fn)
    if me is None:
        return
    for n in walk_local(fn.body):
        if isinstance(n, ast.Call):
            callee = self_attr(n.func, me)
            if callee is not None:
                yield callee, n


def reachable_methods(
    methods: Mapping[str, FunctionNode], start: str, depth: int
) -> dict[str, tuple[str, ...]]:
    r"""The methods that *start* reaches through ``self.m(...)`` calls, at most *depth* calls
    deep, each with the shortest chain of method names from *start* (*start* included).

    >>> import ast
    >>> cls = ast.parse("class C:\n def a(self): self.b()\n def b(self): self.c()\n def c(self): pass")
    >>> methods = {f.name: f for f in cls.body[0].body}
    >>> reachable_methods(methods, "a", 1)
    {'a': ('a',), 'b': ('a', 'b')}
    """
    out: dict[str, tuple[str, ...]] = {start: (start,)}
    frontier = [start]
    for _ in range(depth):
        found: list[str] = []
        for name in frontier:
            for callee, _call in method_calls(methods[name]):
                if callee in methods and callee not in out:
                    out[callee] = (*out[name], callee)
                    found.append(callee)
        frontier = found
    return out
