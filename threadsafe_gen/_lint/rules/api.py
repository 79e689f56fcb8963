"""Keras API rules: a generator given to ``fit()`` with workers (TSG451), a PyDataset that
does not pass its worker arguments on (TSG651), and the removed ``fit_generator`` family
(TSG652). See docs/checks.md#tsg451, #tsg651, #tsg652.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..._findings import Severity
from ..astutil import walk_local
from ..context import ClassInfo, ModuleInfo, Rule
from ..facts import Draft
from ..generators import DEPRECATED_METHODS

__all__ = ["CODES", "RULES"]

CODES = frozenset({"TSG451", "TSG651", "TSG652"})

#: PyDataset's constructor arguments, which a subclass must pass on for workers to work.
_PYDATASET_ARGS = frozenset({"workers", "use_multiprocessing", "max_queue_size"})


def check_deprecated(module: ModuleInfo) -> Iterator[Draft]:
    """TSG652 for each ``.fit_generator(...)``, ``.evaluate_generator`` or ``.predict_generator``."""
    for call in module.attr_calls:
        assert isinstance(call.func, ast.Attribute)  # collected that way
        method = call.func.attr
        if method not in DEPRECATED_METHODS:
            continue
        new = method.replace("_generator", "")
        yield module.draft(
            "TSG652",
            call,
            "",
            f"`.{method}(...)` was removed in Keras 3 and is deprecated in tf_keras",
            hint=f"Call `.{new}(...)` with a keras.utils.PyDataset (or "
            "threadsafe_gen.keras.GeneratorDataset for a generator function).",
        )


def check_fit(module: ModuleInfo) -> Iterator[Draft]:
    """TSG451 for a generator given to fit() with processes, or with threads and no lock."""
    for fit in module.generators.fit_calls:
        if fit.use_multiprocessing:
            yield module.draft(
                "TSG451",
                fit.node,
                "",
                f"`.{fit.method}()` gets {fit.desc} with use_multiprocessing=True: tf_keras copies the "
                "generator into every worker process, so each item arrives up to `workers` "
                "times, silently (in a measured test loader: 4 copies of every sample with workers=4)",
                hint="Use a keras.utils.PyDataset (index-addressed), or "
                "threadsafe_gen.keras.GeneratorDataset, which shards the generator function "
                "per worker.",
            )
        elif fit.workers is not None and fit.workers > 1 and not fit.locked:
            yield module.draft(
                "TSG451",
                fit.node,
                "",
                f"`.{fit.method}()` gets {fit.desc} with workers={fit.workers}: tf_keras' worker threads "
                "call next() on one generator and fail with 'Your generator is NOT "
                "thread-safe' ('ValueError: generator already executing'); Keras 3's fit() "
                "rejects workers= altogether",
                hint="Decorate the generator function with @threadsafe_gen.threadsafe_generator "
                "or wrap the generator with threadsafe_gen.threadsafe_iter(...); better, use a "
                "PyDataset or threadsafe_gen.keras.GeneratorDataset.",
            )


def _is_super_init(call: ast.Call, me: str) -> bool:
    f = call.func
    if not isinstance(f, ast.Attribute) or f.attr != "__init__":
        return False
    v = f.value
    if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "super":
        return True
    # Base.__init__(self, ...)
    return bool(call.args) and isinstance(call.args[0], ast.Name) and call.args[0].id == me


def _super_init(module: ModuleInfo, cls: ClassInfo) -> Iterator[Draft]:
    init = cls.methods.get("__init__")
    if init is None or not init.args.args:
        return
    me = init.args.args[0].arg
    calls_super = forwards_kwargs = passes_workers = False
    for n in walk_local(init.body):
        if isinstance(n, ast.Call) and _is_super_init(n, me):
            calls_super = True
            forwards_kwargs = forwards_kwargs or any(k.arg is None for k in n.keywords)
            passes_workers = (
                passes_workers
                or any(k.arg in _PYDATASET_ARGS for k in n.keywords)
                or any(isinstance(a, ast.Name) and a.id in _PYDATASET_ARGS for a in n.args)
            )
    where = f"{cls.name}.__init__"
    if not calls_super:
        yield module.draft(
            "TSG651",
            init,
            where,
            f"{cls.name}.__init__ does not call super().__init__(**kwargs): Keras then "
            "ignores workers=, use_multiprocessing= and max_queue_size= and runs the "
            "loader with one worker",
            cls=cls.qual,
            applies="pydataset",
        )
    elif not forwards_kwargs and not passes_workers and init.args.kwarg is None:
        yield module.draft(
            "TSG651",
            init,
            where,
            f"{cls.name}.__init__ calls super().__init__() without **kwargs, so "
            f"{cls.name}(..., workers=4) raises TypeError and the loader always runs "
            "with one worker",
            cls=cls.qual,
            applies="pydataset",
            severity=Severity.INFO,
            hint="Accept **kwargs in __init__ and pass them on: super().__init__(**kwargs).",
        )


def check_super_init(module: ModuleInfo) -> Iterator[Draft]:
    """TSG651 for PyDataset subclasses whose ``__init__`` drops the worker arguments."""
    for cls in module.checked_classes:
        yield from _super_init(module, cls)


RULES = (
    Rule("generator-to-fit-with-workers", frozenset({"TSG451"}), check_fit),
    Rule("pydataset-no-super-init", frozenset({"TSG651"}), check_super_init),
    Rule("deprecated-generator-api", frozenset({"TSG652"}), check_deprecated),
)
