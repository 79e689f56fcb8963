"""Pickling rule: what ``__init__`` stores on a loader that cannot be pickled (TSG151).

Workers started with spawn or forkserver receive the loader pickled; a lock, a thread, a
queue, a lambda or a generator on ``self`` makes that fail (docs/checks.md#tsg151).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping

from ..._text import one_line
from ..astutil import (
    FunctionNode,
    contains_yield,
    expressions_on_lines,
    iter_statements,
    match_lines,
    self_attr,
    walk_local,
)
from ..classes import LOADER_BASE_NAMES
from ..context import ClassInfo, ModuleInfo, Rule
from ..facts import At, Draft, Span, Text
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
#: At most this many places that pass an unpicklable value are listed in one finding.
_MAX_LISTED = 4
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


def _runtime_code(what: str) -> str:
    """How check_loader() names the same problem when its code is not TSG101, the dry
    run's own unpicklable-member code (issue 10 item 10: a lambda is TSG102 there)."""
    if "lambda" in what:
        return "; check_loader() reports the same problem as TSG102"
    return ""


def _parameters(init: FunctionNode) -> dict[str, ast.expr | None]:
    """``{name: default}`` of *init*'s parameters after self (``None``: no default)."""
    a = init.args
    positional = a.posonlyargs + a.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults))
    out = dict(zip((p.arg for p in positional), [*defaults, *a.defaults], strict=True))
    out.update(zip((p.arg for p in a.kwonlyargs), a.kw_defaults, strict=True))
    out.pop(positional[0].arg if positional else "", None)
    return out


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
#: A construction of a class of the module, with the names its scope binds by assignment.
_Construction = tuple[ast.Call, Mapping[str, ast.expr]]


class _Scopes:
    """The single-name assignments of the function around a line (or of the module)."""

    def __init__(self, module: ModuleInfo) -> None:
        self.tree = module.tree
        self.functions = [
            s
            for s in iter_statements(module.tree.body)
            if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        self.memo: dict[int, Mapping[str, ast.expr]] = {}

    def bound_at(self, line: int) -> Mapping[str, ast.expr]:
        around = [f for f in self.functions if f.lineno <= line <= (f.end_lineno or f.lineno)]
        scope: ast.Module | FunctionNode = max(around, key=lambda f: f.lineno, default=self.tree)
        if id(scope) not in self.memo:
            body = [s for s in scope.body if not isinstance(s, _DEFINITIONS)]  # own scopes
            bound: dict[str, ast.expr] = {}
            for n in walk_local(body):
                if (
                    isinstance(n, ast.Assign)
                    and len(n.targets) == 1
                    and isinstance(n.targets[0], ast.Name)
                ):
                    bound.setdefault(n.targets[0].id, n.value)
            self.memo[id(scope)] = bound
        return self.memo[id(scope)]


def _constructions(module: ModuleInfo, classes: set[str]) -> dict[str, list[_Construction]]:
    """The calls of these classes of the module (``Loader(..., fn=lambda x: x)``), each with
    the assignments of its scope (``g = gen(); Loader(g)``). Only the lines that spell such
    a call are parsed again, so a big module costs little."""
    pattern = re.compile(
        rb"\b(?:" + b"|".join(re.escape(c.encode()) for c in sorted(classes)) + rb")\s*\("
    )
    lines = match_lines(pattern, module.raw)
    if not lines:
        return {}
    scopes = _Scopes(module)
    out: dict[str, list[_Construction]] = {}
    for n in expressions_on_lines(module.tree.body, lines):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in classes:
            bound = (
                scopes.bound_at(n.lineno)
                if any(isinstance(a, ast.Name) for a in _arguments(n))
                else {}
            )
            out.setdefault(n.func.id, []).append((n, bound))
    return out


def _arguments(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(k.value for k in call.keywords)]


def _stores_parameters(cls: ClassInfo) -> bool:
    """A loader-looking class (its own ``__getitem__``, or a ``Sequence``/``PyDataset``
    base) whose ``__init__`` stores a parameter on self (``self.fn = fn``): values given
    where it is built reach self. (Other classes are left out: a package has many.)"""
    init = cls.methods.get("__init__")
    looks_loader = cls.facts.defines_getitem or any(
        b.rsplit(".", 1)[-1] in LOADER_BASE_NAMES for b in cls.facts.bases
    )
    if init is None or not looks_loader:
        return False
    params = _parameters(init)
    return any(isinstance(v, ast.Name) and v.id in params for _a, v, _s in cls.init_assignments)


def _passed(
    module: ModuleInfo,
    cls: ClassInfo,
    init: FunctionNode,
    calls: list[_Construction],
    gens: set[str],
) -> dict[str, list[tuple[str, ast.AST]]]:
    """``{parameter: [(what, node)]}``: unpicklable values given to *init*'s parameters,
    as their default or at a construction of the class in this module."""
    params = _parameters(init)
    names = list(params)
    out: dict[str, list[tuple[str, ast.AST]]] = {}

    def note(param: str, value: ast.expr, bound: Mapping[str, ast.expr]) -> None:
        what = _unpicklable(module, value, "", gens)
        if what is None and isinstance(value, ast.Name) and value.id in bound:
            # A generator of this module bound in the same scope (`g = gen(); Loader(g)`).
            kind = module.generators.kind(bound[value.id])
            if kind is not None and not kind.locked and not kind.external:
                what = f"a generator ({kind.desc})"
        if what is not None and param in params:
            out.setdefault(param, []).append((what, value))

    for name, default in params.items():
        if default is not None:
            note(name, default, {})
    for call, bound in calls:
        for i, arg in enumerate(call.args):
            if i < len(names) and not isinstance(arg, ast.Starred):
                note(names[i], arg, bound)
        for k in call.keywords:
            if k.arg is not None:
                note(k.arg, k.value, bound)
    return out


def _draft(
    module: ModuleInfo,
    cls: ClassInfo,
    stmt: ast.stmt,
    attr: str,
    text: Text,
    what: str,
    q: str | None,
) -> Draft:
    return module.draft(
        "TSG151",
        stmt,
        f"{cls.name}.__init__",
        (
            f"{cls.name}.__init__ stores ",
            *text,
            ": the loader cannot be pickled, so workers started with spawn or "
            "forkserver (macOS, Windows, Linux from Python 3.14) cannot receive it"
            + _runtime_code(what),
        ),
        cls=cls.qual,
        applies="loader",
        hint=f"{_fix(what, q)}; or drop self.{attr} in __getstate__.",
    )


def _check_class(module: ModuleInfo, cls: ClassInfo, calls: list[_Construction]) -> Iterator[Draft]:
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
    passed = _passed(module, cls, init, calls, generator_methods)
    for attr, value, stmt in cls.init_assignments:
        what = _unpicklable(module, value, me, generator_methods)
        if what is not None:
            q = module.names.call_name(value)
            yield _draft(module, cls, stmt, attr, (f"{what} on self.{attr}",), what, q)
        elif isinstance(value, ast.Name) and value.id in passed:
            sources = passed.pop(value.id)  # one finding per parameter
            what = sources[0][0]
            default = _parameters(init).get(value.id)
            text: list[str | At] = [f"the argument `{value.id}` on self.{attr}, and it is {what}"]
            for i, (_w, node) in enumerate(sources[:_MAX_LISTED]):
                text.append(" and" if i else "")
                if node is default:
                    text.append(" by default")
                else:
                    text += [" when passed at ", At(column=False, span=Span.of(node))]
            yield _draft(module, cls, stmt, attr, tuple(text), what, None)


def check(module: ModuleInfo) -> Iterator[Draft]:
    """TSG151 for each unpicklable object stored on ``self`` in a loader's ``__init__``:
    made there, or given to a parameter stored there (its default, or a construction of
    the class in this module)."""
    classes = list(module.checked_classes)
    calls: dict[str, list[_Construction]] = {}
    if module.has_lambda or module.has_yield or module.has_lock:
        storing = {c.name for c in classes if _stores_parameters(c)}
        calls = _constructions(module, storing) if storing else {}
    for cls in classes:
        yield from _check_class(module, cls, calls.get(cls.name, []))


RULES = (Rule("unpicklable-attribute-in-init", CODES, check),)
