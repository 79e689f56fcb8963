"""Generators in one module: generator functions, what evaluates to a generator, and the
``fit()`` calls that hand one to Keras workers.

Shared by the Keras API rule (TSG451: a generator given to workers) and the randomness
rule (TSG551: the global RNG inside a generator that workers share).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from collections.abc import Iterable, Mapping

from .astutil import FunctionNode, const_int, contains_yield, undecorate
from .names import Names

__all__ = ["DEPRECATED_METHODS", "FitCall", "GeneratorFacts"]

_THREADSAFE_WRAPPERS = frozenset({"threadsafe_gen.threadsafe_iter"})
_THREADSAFE_DECORATORS = frozenset({"threadsafe_gen.threadsafe_generator"})
_FIT_METHODS = frozenset(
    {"fit", "fit_generator", "evaluate", "evaluate_generator", "predict", "predict_generator"}
)
DEPRECATED_METHODS = frozenset({"fit_generator", "evaluate_generator", "predict_generator"})
#: How many `g = threadsafe_iter(g)` re-bindings are followed back to the generator call.
_MAX_REBINDS = 5

#: (description, wrapped-with-a-lock) of an expression that evaluates to a generator.
_Kind = tuple[str, bool]


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
    """

    def __init__(
        self,
        names: Names,
        body: Iterable[ast.stmt],
        assigns: list[ast.Assign],
        attr_calls: list[ast.Call],
        *,
        has_yield: bool,
    ) -> None:
        self._names = names
        self._assigns = assigns
        self._attr_calls = attr_calls
        self.functions: dict[str, FunctionNode] = {}
        self.threadsafe: set[str] = set()  # decorated with @threadsafe_generator
        for stmt in body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if has_yield and contains_yield(stmt):
                self.functions[stmt.name] = stmt
                if any(
                    names.qualname(undecorate(d)) in _THREADSAFE_DECORATORS
                    for d in stmt.decorator_list
                ):
                    self.threadsafe.add(stmt.name)

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
        """(description, wrapped-with-a-lock) when *node* evaluates to a generator."""
        bound = self.bound if bound is None else bound
        if isinstance(node, ast.GeneratorExp):
            return "a generator expression", False
        if isinstance(node, ast.Name) and node.id in bound:
            return bound[node.id]
        if isinstance(node, ast.Call):
            q = self._names.call_name(node)
            if q in _THREADSAFE_WRAPPERS and node.args:
                inner = self.kind(node.args[0], bound)
                if inner is not None:
                    return f"threadsafe_iter({inner[0]})", True
            if isinstance(node.func, ast.Name) and node.func.id in self.functions:
                name = node.func.id
                return f"the generator {name}()", name in self.threadsafe
        return None

    @functools.cached_property
    def fit_calls(self) -> list[FitCall]:
        """The fit/evaluate/predict calls whose data argument is a generator."""
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
            out.append(FitCall(call, method, data, kind[0], kind[1], workers, use_mp))
        return out

    @functools.cached_property
    def shared_by_workers(self) -> set[str]:
        """Generator functions whose generators worker threads or processes share.

        Those made for workers (``@threadsafe_generator``) and those whose generator is
        given to fit() with workers>1 or processes.
        """
        out = set(self.threadsafe)
        for fit in self.fit_calls:
            if fit.shared_by_workers:
                self._mark(fit.data, out, 0)
        return out

    def _mark(self, node: ast.AST, out: set[str], depth: int) -> None:
        if depth > _MAX_REBINDS:  # `g = threadsafe_iter(g)` chains
            return
        if (
            isinstance(node, ast.Call)
            and self._names.call_name(node) in _THREADSAFE_WRAPPERS
            and node.args
        ):
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
