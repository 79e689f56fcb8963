"""Thread-safety rules: an iterator's lock that ``__next__`` never holds (TSG351), a
``__getitem__`` that changes state on ``self`` (TSG352: assigns it or advances an iterator
stored there, itself or in a method it calls) or ignores its index while its batch depends
on state that changes (TSG353).

Worker threads call ``next()`` and ``__getitem__`` at once; state on ``self`` is shared by
all of them (docs/checks.md#tsg351, #tsg352, #tsg353).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterator, Mapping

from ..._registry import Severity
from ..._text import one_line
from ..astutil import (
    FunctionNode,
    first_param,
    flatten_targets,
    is_stub,
    method_calls,
    returned_parts,
    self_attr,
    walk_local,
)
from ..context import HELPER_DEPTH, ClassInfo, ModuleInfo, Rule
from ..facts import Draft
from ..known import ALL_LOCKS, lock_like

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


#: Methods of an object on self that consume it like a cursor (a file, a queue, a DB cursor).
_CONSUMING_METHODS = frozenset(
    {"__next__", "pop", "popleft", "popitem", "read", "readline", "readlines", "fetchone",
     "fetchmany", "get_nowait", "recv"}
)  # fmt: skip


def _per_process_guard(stmt: ast.If) -> bool:
    """``if self._pid != os.getpid(): ...``: a cache rebuilt in each process, on purpose."""
    return any(
        isinstance(n, ast.Call)
        and (
            (isinstance(n.func, ast.Attribute) and n.func.attr == "getpid")
            or (isinstance(n.func, ast.Name) and n.func.id == "getpid")
        )
        for n in ast.walk(stmt.test)
    )


def _self_assignments(fn: FunctionNode, me: str) -> Iterator[tuple[str, ast.stmt]]:
    """``(attr, statement)`` for each ``self.attr = / += / : ...`` in *fn* (tuples unpacked),
    except under a per-process guard (see :func:`_per_process_guard`)."""
    guarded = [s for s in walk_local(fn.body) if isinstance(s, ast.If) and _per_process_guard(s)]
    skip = {id(n) for g in guarded for n in walk_local(g.body)}
    for n in walk_local(fn.body):
        if id(n) in skip:
            continue
        if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in flatten_targets(targets):
                attr = self_attr(t, me)
                if attr is not None:
                    yield attr, n


def _advanced_iterators(fn: FunctionNode, me: str) -> Iterator[tuple[str, ast.Call]]:
    """``(attr, call)`` for each ``next(self.attr)`` or ``self.attr.__next__()`` in *fn*."""
    for n in walk_local(fn.body):
        if not isinstance(n, ast.Call):
            continue
        if isinstance(n.func, ast.Name) and n.func.id == "next" and n.args:
            attr = self_attr(n.args[0], me)
        elif isinstance(n.func, ast.Attribute) and n.func.attr == "__next__":
            attr = self_attr(n.func.value, me)
        else:
            continue
        if attr is not None:
            yield attr, n


#: Methods Keras calls between epochs, in the training process: what they set holds for a
#: whole epoch (Keras hands it to the workers of the next epoch), it is no cursor.
_EPOCH_METHODS = ("__init__", "on_epoch_end", "on_epoch_begin")


def _set_up(cls: ClassInfo) -> set[str]:
    """``__init__``, the epoch hooks, and the private methods only they (or such methods)
    call: code that sets state up for a whole epoch, not per batch."""
    callers: dict[str, set[str]] = {}
    for name, fn in cls.methods.items():
        for callee, _call in method_calls(fn):
            callers.setdefault(callee, set()).add(name)
    reached_by_getitem = set(cls.getitem_reach)
    out = {m for m in _EPOCH_METHODS if m not in reached_by_getitem}
    changed = True
    while changed:
        changed = False
        for name, who in callers.items():
            private = name.startswith("_") and not name.endswith("__")
            if (
                name not in out
                and private
                and name in cls.methods
                and who <= out
                and name not in reached_by_getitem
            ):
                out.add(name)
                changed = True
    return out


def _mutable_attrs(cls: ClassInfo) -> dict[str, str]:
    """Attributes of self assigned outside set-up code (see :func:`_set_up`), each with the
    first method doing it."""
    setup = _set_up(cls)
    out: dict[str, str] = {}
    for name, fn in cls.methods.items():
        me = first_param(fn)
        if name in setup or me is None:
            continue
        for attr, _stmt in _self_assignments(fn, me):
            out.setdefault(attr, name)
    return out


def _is_lock(cls: ClassInfo, expr: ast.expr, me: str) -> bool:
    """*expr* of a ``with`` statement is a lock: ``self.lock``, ``self._mutex``, ``lock``."""
    attr = self_attr(expr, me)
    if attr is not None:
        return attr in cls.lock_attrs or lock_like(attr)
    if isinstance(expr, ast.Name):
        return lock_like(expr.id)
    return cls.module.names.call_name(expr) in ALL_LOCKS


def _under_lock(cls: ClassInfo, fn: FunctionNode, me: str) -> set[int]:
    """Ids of the nodes of *fn* that run with a lock held (inside ``with <lock>:``)."""
    out: set[int] = set()
    for n in walk_local(fn.body):
        if isinstance(n, ast.With) and any(_is_lock(cls, i.context_expr, me) for i in n.items):
            out.update(id(m) for m in walk_local(n.body))
    return out


def _unlocked_reach(cls: ClassInfo) -> Iterator[tuple[str, str, set[int]]]:
    """``(method, self name, ids of its locked nodes)`` for __getitem__ and the methods it
    calls, not following calls made with a lock held (worker threads run those one at a
    time; our own GeneratorDataset draws under its lock)."""
    frontier = ["__getitem__"]
    seen = set(frontier)
    for _ in range(HELPER_DEPTH + 1):
        found: list[str] = []
        for name in frontier:
            fn = cls.methods[name]
            me = first_param(fn)
            if me is None:
                continue
            locked = _under_lock(cls, fn, me) if cls.module.has_lock else set()
            yield name, me, locked
            for callee, call in method_calls(fn):
                if callee in cls.methods and callee not in seen and id(call) not in locked:
                    seen.add(callee)
                    found.append(callee)
        frontier = found


def _assigns_self(module: ModuleInfo, cls: ClassInfo, fn: FunctionNode, me: str) -> Iterator[Draft]:
    """TSG352: ``self.x = ...`` in __getitem__ or a method it calls, or a buffer on self
    filled and returned (one finding per attribute and method)."""
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
            if not isinstance(t, ast.Subscript):
                continue
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
                    hint="Allocate the batch inside __getitem__ (np.empty(...)) or return a copy.",
                )
    for name, self_name, locked in _unlocked_reach(cls):
        chain = cls.getitem_reach.get(name, (name,))
        seen: set[str] = set()
        by_stmt: dict[int, tuple[ast.stmt, list[str]]] = {}  # one finding per statement
        for attr, stmt in _self_assignments(cls.methods[name], self_name):
            if attr not in seen and id(stmt) not in locked:
                seen.add(attr)
                by_stmt.setdefault(id(stmt), (stmt, []))[1].append(attr)
        for stmt, attrs in sorted(by_stmt.values(), key=lambda p: (p[0].lineno, p[0].col_offset)):
            op = "+=" if isinstance(stmt, ast.AugAssign) else "="
            shown = ", ".join(f"self.{a}" for a in attrs)
            it = "it" if len(attrs) == 1 else "them"
            yield module.draft(
                "TSG352",
                stmt,
                f"{cls.name}.{name}",
                f"{cls.chain(chain)} assigns {shown} {op} ...: worker threads race on {it} "
                "and worker processes never see each other's value, so batches "
                "depend on scheduling",
                cls=cls.qual,
                applies="loader",
            )


def _shared_iterators(module: ModuleInfo, cls: ClassInfo) -> Iterator[Draft]:
    """TSG352: ``next(self.it)`` in __getitem__ or a method it calls: one iterator, all workers."""
    for name, self_name, locked in _unlocked_reach(cls):
        chain = cls.getitem_reach.get(name, (name,))
        seen: set[str] = set()
        for attr, call in _advanced_iterators(cls.methods[name], self_name):
            if attr in seen or id(call) in locked:
                continue
            seen.add(attr)
            yield module.draft(
                "TSG352",
                call,
                f"{cls.name}.{name}",
                f"{cls.chain(chain)} calls next(self.{attr}): all worker threads advance this "
                "one iterator (a generator resumed by two threads at once raises 'ValueError: "
                "generator already executing'), and worker processes each advance their own "
                "copy, so they repeat its items",
                cls=cls.qual,
                applies="loader",
                hint="Derive what the iterator gives from the index instead (a function of "
                "the index, or threadsafe_gen.rng_for(index) for random draws), or hold a "
                "lock around next() if only worker threads are used.",
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


def _getitem_runs(cls: ClassInfo) -> Iterator[tuple[FunctionNode, str, set[int] | None]]:
    """``(method, self name, ids of locked nodes)`` for __getitem__ and the methods it
    calls; ``None`` instead of ids for a method only reached with a lock held (all locked)."""
    seen: set[tuple[str, bool]] = set()
    frontier: list[tuple[str, bool]] = [("__getitem__", False)]
    for _ in range(HELPER_DEPTH + 1):
        found: list[tuple[str, bool]] = []
        for name, held in frontier:
            if (name, held) in seen:
                continue
            seen.add((name, held))
            fn = cls.methods[name]
            me = first_param(fn)
            if me is None:
                continue
            locked = _under_lock(cls, fn, me) if cls.module.has_lock else set()
            yield fn, me, None if held else locked
            for callee, call in method_calls(fn):
                if callee in cls.methods:
                    found.append((callee, held or id(call) in locked))
        frontier = found


def _state_in(
    cls: ClassInfo, me: str, n: ast.AST, mutable: Callable[[], Mapping[str, str]]
) -> str | None:
    """What node *n* shows of state that changes between calls, else ``None``."""
    if isinstance(n, ast.Call):
        f = n.func
        if (isinstance(f, ast.Name) and f.id == "next") or (
            isinstance(f, ast.Attribute)
            and f.attr in _CONSUMING_METHODS
            and self_attr(f.value, me) is not None
        ):
            return f"it calls `{one_line(ast.unparse(n), 60)}`"
        return None
    if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load):
        attr = self_attr(n, me)
    elif isinstance(n, ast.AugAssign):
        attr = self_attr(n.target, me)
    else:
        return None
    if attr is not None and attr in mutable():
        return f"it reads self.{attr}, which {cls.name}.{mutable()[attr]} reassigns"
    return None


def _changing_state(cls: ClassInfo) -> tuple[str, bool] | None:
    """How the batch of __getitem__ (or a method it calls) depends on state that changes
    between calls, shown in a message, and whether only with a lock held; ``None`` when it
    reads only set-up state."""
    under_lock: str | None = None
    mutable = functools.cache(lambda: _mutable_attrs(cls))
    for fn, me, locked in _getitem_runs(cls):
        for n in walk_local(fn.body):
            state = _state_in(cls, me, n, mutable)
            if state is None:
                continue
            if locked is not None and id(n) not in locked:
                return state, False
            under_lock = under_lock or state
    return (under_lock, True) if under_lock else None


def _ignores_index(
    module: ModuleInfo, cls: ClassInfo, fn: FunctionNode, index: str
) -> Iterator[Draft]:
    """TSG353: a __getitem__ that never reads its index but serves state that changes."""
    # A body whose batch depends on no changing state (no cursor, no iterator, only what
    # __init__ set up) returns constants or fresh data, the same whichever worker runs it:
    # an online simulator or a stand-in, not a loader that lost track of its index (random
    # data is TSG551's business). An index named `_` is no exception: the name does not
    # make a cursor safe.
    if _reads_index(fn, index):
        return
    found = _changing_state(cls)
    if found is None:
        return
    state, locked = found
    where = f"{cls.name}.__getitem__"
    if locked:  # worker threads take turns; processes still each advance their own copy
        yield module.draft(
            "TSG353",
            fn,
            where,
            f"{where} never reads its index argument `{index}`, yet its batch depends on "
            f"state that changes between calls ({state}, with a lock held): worker threads "
            "take turns, but worker processes each advance their own copy and serve the "
            "same batches, and no worker can serve a given index again",
            cls=cls.qual,
            applies="loader",
            severity=Severity.WARNING,
        )
        return
    yield module.draft(
        "TSG353",
        fn,
        where,
        f"{where} never reads its index argument `{index}`, yet its batch depends on state "
        f"that changes between calls ({state}): with workers>1 batches are duplicated "
        "and others skipped (in a measured test loader: 16 of 64 samples unique with 4 "
        "threads)",
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
        ignores = list(_ignores_index(module, cls, fn, index))
        yield from ignores
        if not ignores:  # else the shared iterator is why the index is not needed: one finding
            yield from _shared_iterators(module, cls)


RULES = (
    Rule("next-without-lock", frozenset({"TSG351"}), check_next),
    Rule("getitem-state", frozenset({"TSG352", "TSG353"}), check_getitem),
)
