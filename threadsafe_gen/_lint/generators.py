"""Generators in one module: generator functions, what evaluates to a generator, and the
``fit()`` calls that hand one to Keras workers.

Shared by the Keras API rule (TSG451: a generator given to workers) and the randomness
rule (TSG551: the global RNG inside a generator that workers share). A generator function
imported from another module is recorded by its qualified name; whether it is one is decided
across the files linted together (see NOTE [ Conditional findings ] in classes.py).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping

from .._text import one_line
from .astutil import FunctionNode, const_int, contains_yield, undecorate
from .names import Names

__all__ = ["DEPRECATED_METHODS", "FitCall", "GeneratorFacts"]

_THREADSAFE_WRAPPERS = frozenset({"threadsafe_gen.threadsafe_iter"})
_THREADSAFE_DECORATORS = frozenset({"threadsafe_gen.threadsafe_generator"})
#: An imported wrapper or decorator whose name says it locks (`threadsafe_generator`,
#: `ThreadSafeIter`, `LockedIterator`): trusted here, its own file is checked by TSG351.
_LOCKING_NAME = re.compile(r"thread_?safe|locked|synchroni[sz]ed", re.IGNORECASE)
_FIT_METHODS = frozenset(
    {"fit", "fit_generator", "evaluate", "evaluate_generator", "predict", "predict_generator"}
)
DEPRECATED_METHODS = frozenset({"fit_generator", "evaluate_generator", "predict_generator"})
#: How many `g = threadsafe_iter(g)` re-bindings are followed back to the generator call.
_MAX_REBINDS = 5


@dataclasses.dataclass(frozen=True)
class _Kind:
    """What an expression that evaluates to a generator is."""

    desc: str  # "the generator batches()", "a generator expression", ...
    locked: bool  # wrapped with a lock, or made by a locking decorator
    external: str = ""  # qualified name of a function in another module (maybe a generator)


@dataclasses.dataclass(frozen=True)
class FitCall:
    """A ``.fit()``/``.evaluate()``/``.predict()`` (or ``*_generator``) call given a generator."""

    node: ast.Call
    method: str
    data: ast.expr
    desc: str  # "the generator batches()", "a generator expression", ...
    locked: bool  # wrapped with threadsafe_iter or made by @threadsafe_generator
    workers: int | None
    use_multiprocessing: bool
    # A function of another module: a generator only if the class index says so.
    external: str = ""

    @property
    def shared_by_workers(self) -> bool:
        """Worker threads or processes share this generator."""
        return self.use_multiprocessing or (self.workers is not None and self.workers > 1)


class GeneratorFacts:
    """The generator functions of one module and the generators its fit() calls receive.

    Args:
        names: the module's name resolution.
        body: the module's top-level statements.
        assigns: every assignment statement of the module (nested ones too).
        attr_calls: the method calls on lines that call fit/evaluate/predict.
        has_yield: the source mentions ``yield`` at all (else nothing is a generator).
        lock_wrappers: the module's iterator classes that own a lock (asked on first use);
            whether ``__next__`` holds it is TSG351's business.
    """

    def __init__(
        self,
        names: Names,
        body: Iterable[ast.stmt],
        assigns: list[ast.Assign],
        attr_calls: list[ast.Call],
        *,
        has_yield: bool,
        lock_wrappers: Callable[[], set[str]] = set,
    ) -> None:
        self._names = names
        self._assigns = assigns
        self._attr_calls = attr_calls
        self._lock_wrappers = lock_wrappers
        self.functions: dict[str, FunctionNode] = {}
        self._defs: dict[str, FunctionNode] = {}  # every module-level function
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._defs[stmt.name] = stmt
                if has_yield and contains_yield(stmt):
                    self.functions[stmt.name] = stmt

    @functools.cached_property
    def wrappers(self) -> set[str]:
        """The module's classes that wrap an iterator under a lock (the recipe's class)."""
        return self._lock_wrappers()

    def _locking_call(self, node: ast.AST) -> bool:
        """*node* calls threadsafe_iter, a lock-owning iterator class of this module, or an
        imported callable named as a lock wrapper."""
        if not isinstance(node, ast.Call):
            return False
        q = self._names.call_name(node)
        if q in _THREADSAFE_WRAPPERS:
            return True
        if isinstance(node.func, ast.Name) and node.func.id in self.wrappers:
            return True
        local = q is not None and q.startswith(f"{self._names.module}.")
        return (
            q is not None and not local and _LOCKING_NAME.search(q.rsplit(".", 1)[-1]) is not None
        )

    def _locking_decorator(self, d: ast.expr) -> bool:
        """``@threadsafe_generator``: ours, one of this module that wraps the generator in a
        lock-owning class, or an imported one named as a lock wrapper."""
        d = undecorate(d)
        q = self._names.qualname(d)
        if q in _THREADSAFE_DECORATORS:
            return True
        if isinstance(d, ast.Name) and d.id in self._defs:
            return any(self._locking_call(n) for n in ast.walk(self._defs[d.id]))
        local = q is not None and q.startswith(f"{self._names.module}.")
        return (
            q is not None and not local and _LOCKING_NAME.search(q.rsplit(".", 1)[-1]) is not None
        )

    @functools.cached_property
    def threadsafe(self) -> set[str]:
        """Generator functions made thread-safe by a locking decorator."""
        return {
            name
            for name, fn in self.functions.items()
            if any(self._locking_decorator(d) for d in fn.decorator_list)
        }

    @functools.cached_property
    def bound(self) -> Mapping[str, _Kind]:
        """Names bound (anywhere in the module) to a generator."""
        out: dict[str, _Kind] = {}
        for node in self._assigns:
            if len(node.targets) == 1:
                t = node.targets[0]
                kind = self.kind(node.value, out)
                if isinstance(t, ast.Name) and kind is not None:
                    out[t.id] = kind
        return out

    def kind(self, node: ast.AST, bound: Mapping[str, _Kind] | None = None) -> _Kind | None:
        """What *node* is when it evaluates to a generator (maybe: a function of another
        module); else ``None``."""
        bound = self.bound if bound is None else bound
        if isinstance(node, ast.GeneratorExp):
            return _Kind("a generator expression", locked=False)
        if isinstance(node, ast.Name) and node.id in bound:
            return bound[node.id]
        if not isinstance(node, ast.Call):
            return None
        if self._locking_call(node) and node.args:
            inner = self.kind(node.args[0], bound)
            if inner is not None:
                q = self._names.call_name(node)
                shown = (q or one_line(ast.unparse(node.func), 60)).rsplit(".", 1)[-1]
                return _Kind(f"{shown}({inner.desc})", True, inner.external)
        if isinstance(node.func, ast.Name) and node.func.id in self.functions:
            name = node.func.id
            return _Kind(f"the generator {name}()", name in self.threadsafe)
        q = self._names.call_name(node)
        if q is not None and not q.startswith(f"{self._names.module}.") and "." in q:
            return _Kind(f"the generator {q.rsplit('.', 1)[-1]}()", locked=False, external=q)
        return None

    @functools.cached_property
    def fit_calls(self) -> list[FitCall]:
        """The fit/evaluate/predict calls whose data argument is a generator (or a call of
        another module's function, which may be one)."""
        out: list[FitCall] = []
        for call in self._attr_calls:
            assert isinstance(call.func, ast.Attribute)  # collected that way
            method = call.func.attr
            if method not in _FIT_METHODS:
                continue
            kw = {k.arg: k.value for k in call.keywords if k.arg}
            data = call.args[0] if call.args else kw.get("x", kw.get("generator"))
            if data is None:
                continue
            kind = self.kind(data)
            if kind is None:
                continue
            mp = kw.get("use_multiprocessing")
            use_mp = isinstance(mp, ast.Constant) and mp.value is True
            workers = const_int(kw.get("workers"))
            out.append(
                FitCall(call, method, data, kind.desc, kind.locked, workers, use_mp, kind.external)
            )
        return out

    @functools.cached_property
    def shared_by_workers(self) -> set[str]:
        """Generator functions whose generators worker threads or processes share.

        Those made for workers (``@threadsafe_generator``) and those whose generator is
        given to fit() with workers>1 or processes.
        """
        out = set(self.threadsafe)
        for fit in self.fit_calls:
            if fit.shared_by_workers and not fit.external:
                self._mark(fit.data, out, 0)
        return out

    @functools.cached_property
    def shared_elsewhere(self) -> tuple[str, ...]:
        """Functions of other modules whose generators this module's fit() calls give to
        worker threads or processes (qualified names)."""
        return tuple(
            sorted({f.external for f in self.fit_calls if f.external and f.shared_by_workers})
        )

    def _mark(self, node: ast.AST, out: set[str], depth: int) -> None:
        if depth > _MAX_REBINDS:  # `g = threadsafe_iter(g)` chains
            return
        if self._locking_call(node) and isinstance(node, ast.Call) and node.args:
            node = node.args[0]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in self.functions:
                out.add(node.func.id)
        elif isinstance(node, ast.Name):
            for n in self._assigns:
                if any(
                    isinstance(t, ast.Name) and t.id == node.id for t in n.targets
                ) and isinstance(n.value, ast.Call):
                    self._mark(n.value, out, depth + 1)
