"""Pickling rule: what ``__init__`` stores on a loader that cannot be pickled (TSG151).

Workers started with spawn or forkserver receive the loader pickled; a lock, a thread, a
queue, a lambda or a generator on ``self`` makes that fail (docs/checks.md#tsg151).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping

from ..._text import one_line
from ..astutil import contains_yield, self_attr
from ..context import ClassInfo, ModuleInfo, Rule
from ..facts import Draft
from ..known import THREAD_LOCKS

__all__ = ["CODES", "RULES"]

CODES = frozenset({"TSG151"})

# Objects whose pickling raises TypeError (measured for locks, queues, local, generators).
_UNPICKLABLE_CTORS: Mapping[str, str] = {
    **dict.fromkeys(THREAD_LOCKS, "a lock"),
    "threading.Event": "a threading.Event (it holds a lock)",
    "threading.Barrier": "a threading.Barrier (it holds a lock)",
    "threading.Thread": "a thread",
    "threading.Timer": "a thread",
    "threading.local": "a threading.local",
    "queue.Queue": "a queue.Queue (it holds locks)",
    "queue.LifoQueue": "a queue.LifoQueue (it holds locks)",
    "queue.PriorityQueue": "a queue.PriorityQueue (it holds locks)",
    "queue.SimpleQueue": "a queue.SimpleQueue",
    "concurrent.futures.ThreadPoolExecutor": "a thread pool",
    "concurrent.futures.ProcessPoolExecutor": "a process pool",
    "concurrent.futures.thread.ThreadPoolExecutor": "a thread pool",
    "multiprocessing.Pool": "a process pool",
    "multiprocessing.pool.Pool": "a process pool",
    "multiprocessing.pool.ThreadPool": "a thread pool",
}
#: Methods with which a class controls its own pickling (it may drop or rebuild the attribute).
_CUSTOM_PICKLING = frozenset({"__getstate__", "__reduce__", "__reduce_ex__"})


def _unpicklable(
    module: ModuleInfo, value: ast.expr, me: str, generator_methods: set[str]
) -> str | None:
    """What *value* is, when it cannot be pickled; else ``None``."""
    q = module.names.call_name(value)
    if isinstance(value, ast.Lambda):
        return "a lambda (pickle refers to functions by name; a lambda has none)"
    if isinstance(value, ast.GeneratorExp):
        return "a generator expression"
    if q is not None and q in _UNPICKLABLE_CTORS:
        return f"{_UNPICKLABLE_CTORS[q]} ({q})"
    if isinstance(value, ast.Call) and (
        (isinstance(value.func, ast.Name) and value.func.id in module.generators.functions)
        or self_attr(value.func, me) in generator_methods
    ):
        return f"a generator ({one_line(ast.unparse(value.func), 80)}() contains yield)"
    return None


def _fix(what: str, q: str | None) -> str:
    if q in THREAD_LOCKS:
        return "Use threadsafe_gen.Lock() (it pickles and is re-created in each worker)"
    if "lambda" in what:
        return "Use a module-level def function instead of the lambda"
    return (
        "Create it where it is used (inside __getitem__, or lazily per worker "
        "with threadsafe_gen.per_process / per_thread)"
    )


def _check_class(module: ModuleInfo, cls: ClassInfo) -> Iterator[Draft]:
    if not cls.init_assignments or any(m in _CUSTOM_PICKLING for m in cls.methods):
        return
    init = cls.methods["__init__"]
    me = init.args.args[0].arg
    generator_methods = (
        {
            s.name
            for s in cls.node.body
            if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and contains_yield(s)
        }
        if module.has_yield
        else set()
    )
    for attr, value, stmt in cls.init_assignments:
        what = _unpicklable(module, value, me, generator_methods)
        if what is None:
            continue
        yield module.draft(
            "TSG151",
            stmt,
            f"{cls.name}.__init__",
            f"{cls.name}.__init__ stores {what} on self.{attr}: the loader cannot be "
            "pickled, so workers started with spawn or forkserver (macOS, Windows, "
            "Linux from Python 3.14) cannot receive it",
            cls=cls.qual,
            applies="loader",
            hint=f"{_fix(what, module.names.call_name(value))}; or drop self.{attr} in __getstate__.",
        )


def check(module: ModuleInfo) -> Iterator[Draft]:
    """TSG151 for each unpicklable object stored on ``self`` in a loader's ``__init__``."""
    for cls in module.checked_classes:
        yield from _check_class(module, cls)


RULES = (Rule("unpicklable-attribute-in-init", CODES, check),)
