"""Performance rule: a lock held around the whole of ``__getitem__`` (TSG751).

Worker threads then run one at a time, so workers=4 is no faster than workers=1
(docs/checks.md#tsg751).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping

from ..._text import one_line
from ..astutil import body_without_docstring, self_attr
from ..context import ClassInfo, ModuleInfo, Rule
from ..facts import Draft
from ..known import ALL_LOCKS

__all__ = ["CODES", "RULES"]

CODES = frozenset({"TSG751"})


def _acquire_release_whole(
    body: list[ast.stmt], me: str, lock_attrs: Mapping[str, ast.AST]
) -> bool:
    """``self.lock.acquire()`` then ``try: ... finally: self.lock.release()`` as the whole body."""
    if len(body) != 2 or not isinstance(body[1], ast.Try) or not body[1].finalbody:
        return False
    first = body[0]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Call)):
        return False
    f = first.value.func
    if not (isinstance(f, ast.Attribute) and f.attr == "acquire"):
        return False
    attr = self_attr(f.value, me)
    return attr is not None and attr in lock_attrs


def _with_lock(module: ModuleInfo, cls: ClassInfo, stmt: ast.With, me: str) -> str | None:
    """The lock expression of ``with <lock>:``, shown as source, or ``None``."""
    for item in stmt.items:
        expr = item.context_expr
        attr = self_attr(expr, me)
        q = module.names.call_name(expr) or module.names.qualname(expr)
        if (
            (attr is not None and attr in cls.lock_attrs)
            or (isinstance(expr, ast.Name) and "lock" in expr.id.lower())
            or q in ALL_LOCKS
        ):
            return one_line(ast.unparse(expr), 80)
    return None


def _lock_around_getitem(module: ModuleInfo, cls: ClassInfo) -> Iterator[Draft]:
    fn = cls.getitem
    params = (fn.args.posonlyargs + fn.args.args) if fn is not None else []
    if fn is None or len(params) < 2:
        return
    me = params[0].arg
    where = f"{cls.name}.__getitem__"
    body = body_without_docstring(fn.body)
    if len(body) == 1 and isinstance(body[0], ast.With):
        shown = _with_lock(module, cls, body[0], me)
        if shown is None:
            return
        text = (
            f"`with {shown}:` wraps the whole of {where}, so worker threads run "
            "one at a time: workers=4 is no faster than workers=1"
        )
    elif _acquire_release_whole(body, me, cls.lock_attrs):
        text = (
            f"{where} acquires a lock before its body and releases it after, so worker "
            "threads run one at a time: workers=4 is no faster than workers=1"
        )
    else:
        return
    yield module.draft("TSG751", body[0], where, text, cls=cls.qual, applies="loader")


def check(module: ModuleInfo) -> Iterator[Draft]:
    """TSG751 for each loader whose ``__getitem__`` runs entirely under one lock."""
    for cls in module.checked_classes:
        yield from _lock_around_getitem(module, cls)


RULES = (Rule("lock-around-getitem", CODES, check),)
