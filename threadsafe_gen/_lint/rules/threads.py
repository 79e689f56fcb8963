"""Thread-safety rules: an iterator's lock that ``__next__`` never holds (TSG351), a
``__getitem__`` that writes to ``self`` (TSG352) or ignores its index (TSG353).

Worker threads call ``next()`` and ``__getitem__`` at once; state on ``self`` is shared by
all of them (docs/checks.md#tsg351, #tsg352, #tsg353).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping

from ..astutil import FunctionNode, flatten_targets, is_stub, returned_parts, self_attr, walk_local
from ..context import ClassInfo, ModuleInfo, Rule
from ..facts import Draft

__all__ = ["CODES", "RULES"]

CODES = frozenset({"TSG351", "TSG352", "TSG353"})
#: How many calls deep __next__ is followed into methods of its class (self.next()).
_DELEGATION_DEPTH = 3


def _holds(
    fn: FunctionNode, methods: Mapping[str, FunctionNode], locks: Mapping[str, ast.AST], depth: int
) -> bool:
    """*fn* takes one of *locks*: ``with self.lock``, ``acquire()``, or via a method it calls."""
    if not fn.args.args:
        return False
    me = fn.args.args[0].arg
    for n in walk_local(fn.body):
        if isinstance(n, (ast.With, ast.AsyncWith)):
            for item in n.items:
                if self_attr(item.context_expr, me) in locks:
                    return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            if n.func.attr == "acquire" and self_attr(n.func.value, me) in locks:
                return True
            # __next__ delegating to a method of the class that holds the lock
            # (the Python 2 recipe's `def __next__(self): return self.next()`).
            callee = self_attr(n.func, me)
            if (
                callee is not None
                and callee in methods
                and depth < _DELEGATION_DEPTH
                and _holds(methods[callee], methods, locks, depth + 1)
            ):
                return True
    return False


def _next_without_lock(module: ModuleInfo, cls: ClassInfo) -> Iterator[Draft]:
    nxt = cls.methods.get("__next__")
    locks = cls.lock_attrs if nxt is not None else {}
    if nxt is None or not locks or is_stub(nxt.body) or _holds(nxt, cls.methods, locks, 0):
        return
    names = ", ".join(f"self.{a}" for a in sorted(locks))
    yield module.draft(
        "TSG351",
        nxt,
        f"{cls.name}.__next__",
        f"{cls.name}.__next__ never holds {names}, so the lock protects nothing: threads "
        "calling next() at once fail with 'ValueError: generator already executing' or "
        "race silently",
        hint=f"Put the body of __next__ under `with self.{sorted(locks)[0]}:`, or "
        "replace the class with threadsafe_gen.threadsafe_iter(iterable).",
    )


def _assigns_self(module: ModuleInfo, cls: ClassInfo, fn: FunctionNode, me: str) -> Iterator[Draft]:
    """TSG352: ``self.x = ...`` in __getitem__, or a buffer on self filled and returned."""
    where = f"{cls.name}.__getitem__"
    # Attributes of self that __getitem__ returns (as a whole, a view or in a tuple).
    # An element looked up by key (self.cache[idx]) is not the buffer itself.
    returned = {
        a
        for r in walk_local(fn.body)
        if isinstance(r, ast.Return) and r.value is not None
        for v in returned_parts(r.value)
        if (a := self_attr(v, me)) is not None
    }
    for n in walk_local(fn.body):
        if not isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            continue
        targets = n.targets if isinstance(n, ast.Assign) else [n.target]
        for t in flatten_targets(targets):
            attr = self_attr(t, me)
            if attr is None and isinstance(t, ast.Subscript):
                filled = self_attr(t.value, me)
                if filled is not None and filled in returned:
                    yield module.draft(
                        "TSG352",
                        n,
                        where,
                        f"{where} fills self.{filled} in place and returns it: every "
                        "batch is the same array, so batches still queued are "
                        "overwritten by later calls (in a measured test loader: 8 of 64 samples unique "
                        "with 4 threads)",
                        cls=cls.qual,
                        applies="loader",
                        hint="Allocate the batch inside __getitem__ (np.empty(...)) "
                        "or return a copy.",
                    )
            if attr is not None:
                op = "+=" if isinstance(n, ast.AugAssign) else "="
                yield module.draft(
                    "TSG352",
                    n,
                    where,
                    f"{where} assigns self.{attr} {op} ...: worker threads race on it "
                    "and worker processes never see each other's value, so batches "
                    "depend on scheduling",
                    cls=cls.qual,
                    applies="loader",
                )


def _reads_index(fn: FunctionNode, index: str) -> bool:
    if any(
        isinstance(n, ast.Name) and n.id == index and isinstance(n.ctx, ast.Load)
        for n in walk_local(fn.body)
    ):
        return True
    # Nested functions and lambdas may read the index too.
    return any(isinstance(n, ast.Name) and n.id == index for n in ast.walk(fn)) and any(
        isinstance(n, (ast.Lambda, ast.FunctionDef)) for n in ast.walk(fn) if n is not fn
    )


def _ignores_index(
    module: ModuleInfo, cls: ClassInfo, fn: FunctionNode, me: str, index: str
) -> Iterator[Draft]:
    """TSG353: a __getitem__ that reads state but never its index."""
    # `_` names an argument ignored on purpose. A body that reads no state (no `self.x`,
    # no next()) returns constants or fresh random data, the same whichever worker runs
    # it: stand-ins in tests, not a loader that lost track of its index (random data is
    # TSG551's business).
    if index.startswith("_") or _reads_index(fn, index):
        return
    reads_state = any(
        (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == me)
        or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "next")
        for n in ast.walk(fn)
    )
    if not reads_state:
        return
    where = f"{cls.name}.__getitem__"
    yield module.draft(
        "TSG353",
        fn,
        where,
        f"{where} never reads its index argument `{index}`: it returns whatever its "
        "state points at, so with workers>1 batches are duplicated and others "
        "skipped (in a measured test loader: 16 of 64 samples unique with 4 threads)",
        cls=cls.qual,
        applies="loader",
    )


def check_next(module: ModuleInfo) -> Iterator[Draft]:
    """TSG351 for iterators whose ``__next__`` never holds the lock they own."""
    for cls in module.checked_classes:
        yield from _next_without_lock(module, cls)


def check_getitem(module: ModuleInfo) -> Iterator[Draft]:
    """TSG352 and TSG353 for index loaders' ``__getitem__``."""
    for cls in module.checked_classes:
        fn = cls.getitem
        params = (fn.args.posonlyargs + fn.args.args) if fn is not None else []
        if fn is None or len(params) < 2:
            continue
        me, index = params[0].arg, params[1].arg
        yield from _assigns_self(module, cls, fn, me)
        yield from _ignores_index(module, cls, fn, me, index)


RULES = (
    Rule("next-without-lock", frozenset({"TSG351"}), check_next),
    Rule("getitem-state", frozenset({"TSG352", "TSG353"}), check_getitem),
)
