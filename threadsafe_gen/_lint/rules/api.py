"""Keras API rules: a generator given to ``fit()`` with workers (TSG451), a PyDataset that
does not pass its worker arguments on (TSG651), and the removed ``fit_generator`` family
(TSG652). See docs/checks.md#tsg451, #tsg651, #tsg652.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from ..._registry import Severity
from ..astutil import FunctionNode, expressions_on_lines, match_lines, walk_local
from ..classes import Applies
from ..context import ClassInfo, ModuleInfo, Rule
from ..facts import Draft
from ..generators import DEPRECATED_METHODS

__all__ = ["CODES", "RULES"]

CODES = frozenset({"TSG451", "TSG651", "TSG652"})

#: PyDataset's constructor arguments, which a subclass must pass on for workers to work.
_PYDATASET_ARGS = frozenset({"workers", "use_multiprocessing", "max_queue_size"})
_FIT_METHODS = frozenset({"fit", "evaluate", "predict"})
_WORKER_KEYWORD_RE = re.compile(rb"\b(?:workers|use_multiprocessing|max_queue_size)\s*=")
# Modules and names only Keras 2 has (tf_keras, keras 2.x, TensorFlow's private copy).
_KERAS2_MODULES = (
    "tf_keras",
    "tensorflow.python.keras",
    "keras.engine",
    "keras.utils.data_utils",
    "keras.utils.np_utils",
    "keras.utils.all_utils",
    "keras.layers.core",
    "keras.layers.convolutional",
    "keras.layers.recurrent",
    "keras.layers.normalization",
    "keras.layers.merge",
    "keras.wrappers.scikit_learn",
    "keras.backend.tensorflow_backend",
)
_KERAS2_NAMES = frozenset({"keras.preprocessing.image.ImageDataGenerator"})
# Modules only Keras 3 has.
_KERAS3_MODULES = ("keras.ops", "keras_core")


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
        # A function of another module: only if the files linted together show it is a
        # generator function (issue 10 item 12).
        applies: Applies = "always"
        if fit.use_multiprocessing:
            if fit.external:
                applies = "generator"
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
                cls=fit.external,
                applies=applies,
            )
        elif fit.workers is not None and fit.workers > 1 and not fit.locked:
            if fit.external:
                applies = "unlocked-generator"
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
                cls=fit.external,
                applies=applies,
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


def _flavour_signals(module: ModuleInfo) -> tuple[list[str], list[str]]:
    """What in this file says which Keras it targets: (Keras 2 signs, Keras 3 signs)."""
    k2: list[str] = []
    k3: list[str] = []
    for name, q in module.names.imports.items():
        if q.startswith(_KERAS2_MODULES) or q in _KERAS2_NAMES:
            k2.append(f"it imports {q}")
        elif q.endswith(".PyDataset") or q.startswith(_KERAS3_MODULES):
            k3.append(
                f"it imports {q} as {name}" if name != q.rsplit(".", 1)[-1] else f"it imports {q}"
            )
    for call in module.attr_calls:
        assert isinstance(call.func, ast.Attribute)  # collected that way
        method = call.func.attr
        if method in DEPRECATED_METHODS:
            k2.append(f"it calls .{method}()")
        elif method in _FIT_METHODS and any(k.arg in _PYDATASET_ARGS for k in call.keywords):
            arg = next(k.arg for k in call.keywords if k.arg in _PYDATASET_ARGS)
            k2.append(f"it passes {arg}= to .{method}(), which Keras 3 rejects")
    for cls in module.classes:
        if any(b.endswith(".PyDataset") for b in cls.facts.bases):
            k3.append(f"{cls.name} subclasses PyDataset")
    local = module.names.local_classes
    lines = match_lines(_WORKER_KEYWORD_RE, module.raw) if local else []
    for n in expressions_on_lines(module.tree.body, lines) if lines else ():
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id in local
            and any(k.arg in _PYDATASET_ARGS for k in n.keywords)
        ):
            k3.append(f"it passes the worker arguments to {n.func.id}(...)")
            break
    return k2, k3


def _super_init_call(init: FunctionNode, me: str) -> tuple[bool, bool]:
    """(calls super().__init__, passes the worker arguments or **kwargs on)."""
    calls_super = passes = False
    for n in walk_local(init.body):
        if isinstance(n, ast.Call) and _is_super_init(n, me):
            calls_super = True
            passes = (
                passes
                or any(k.arg is None or k.arg in _PYDATASET_ARGS for k in n.keywords)
                or any(isinstance(a, ast.Name) and a.id in _PYDATASET_ARGS for a in n.args)
            )
    return calls_super, passes


class _Flavour:
    """Which Keras this file targets, worked out on first use (few files need it)."""

    def __init__(self, module: ModuleInfo) -> None:
        self.module = module
        self._signals: tuple[list[str], list[str]] | None = None

    @property
    def signals(self) -> tuple[list[str], list[str]]:
        if self._signals is None:
            self._signals = _flavour_signals(self.module)
        return self._signals


_UNSURE = (
    "; this file does not show which Keras it targets: on Keras 3 (the keras 3 package, or "
    "tf.keras from TensorFlow 2.16) a Sequence is a PyDataset and this holds; on Keras 2 "
    "(tf_keras, tf.keras before TensorFlow 2.16, which take workers= in fit()) it is fine"
)


def _super_init(module: ModuleInfo, cls: ClassInfo, flavour: _Flavour) -> Iterator[Draft]:
    init = cls.methods.get("__init__")
    if init is None or not init.args.args:
        return
    calls_super, passes = _super_init_call(init, init.args.args[0].arg)
    if calls_super and (passes or init.args.kwarg is not None):
        return
    where = f"{cls.name}.__init__"
    if not calls_super:
        text = (
            f"{where} does not call super().__init__(**kwargs): Keras then ignores workers=, "
            "use_multiprocessing= and max_queue_size= and runs the loader with one worker"
        )
        severity, hint = None, None
    else:
        text = (
            f"{where} calls super().__init__() without **kwargs, so {cls.name}(..., workers=4) "
            "raises TypeError and the loader always runs with one worker"
        )
        severity = Severity.INFO
        hint = "Accept **kwargs in __init__ and pass them on: super().__init__(**kwargs)."
    # A PyDataset subclass is Keras 3 for sure.
    yield module.draft(
        "TSG651", init, where, text, cls=cls.qual, applies="pydataset", severity=severity, hint=hint
    )
    # A Sequence subclass is Keras 2 or 3: the file may tell (issue 10 item 1).
    if not any(cls.facts.bases):
        return  # no base class it could be a Sequence through
    k2, k3 = flavour.signals
    if k2 and not k3:
        return  # Keras 2: a Sequence takes no constructor arguments; workers go to fit()
    if k3 and not k2:
        text += f" (this file targets Keras 3: {k3[0]})"
    else:
        text += _UNSURE
        severity = Severity.INFO
        hint = (
            "On Keras 3, accept **kwargs and call super().__init__(**kwargs) (harmless on Keras 2)."
        )
    yield module.draft(
        "TSG651", init, where, text, cls=cls.qual, applies="sequence", severity=severity, hint=hint
    )


def check_super_init(module: ModuleInfo) -> Iterator[Draft]:
    """TSG651 for PyDataset subclasses whose ``__init__`` drops the worker arguments; for a
    Sequence subclass, only when its file targets Keras 3 (at info when it cannot tell)."""
    flavour = _Flavour(module)
    for cls in module.checked_classes:
        yield from _super_init(module, cls, flavour)


RULES = (
    Rule("generator-to-fit-with-workers", frozenset({"TSG451"}), check_fit),
    Rule("pydataset-no-super-init", frozenset({"TSG651"}), check_super_init),
    Rule("deprecated-generator-api", frozenset({"TSG652"}), check_deprecated),
)
