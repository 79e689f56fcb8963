"""Framework rules: PyTorch DataLoaders and Grain pipelines (TSG152, TSG452, TSG552).

* TSG152: a lambda or a function defined inside another function given to a torch
  ``DataLoader`` as ``collate_fn`` / ``worker_init_fn`` with worker processes: spawn and
  forkserver workers cannot unpickle it (an error with an explicit spawn/forkserver
  context, a warning with the default one, which is forkserver on Linux from Python 3.14).
  Not reported for Grain: Grain ships its pipeline with cloudpickle, which accepts lambdas.
* TSG452: an ``IterableDataset`` whose ``__iter__`` never asks which worker runs it
  (``get_worker_info()``, ``threadsafe_gen.shard()``/``worker_info()``, an auto-sharded
  ``@threadsafe_generator``), given in this module to a ``DataLoader`` with more than one
  worker: each worker yields every item.
* TSG552: ``numpy.random`` / ``random`` drawn inside a Grain ``Map`` transform instead of
  the ``rng`` a ``RandomMap`` receives: not reproducible (docs/checks.md#tsg552).

torch and Grain names are resolved through the module's imports, as Keras' are by the
other rules. Handles opened in a ``Dataset``'s ``__init__`` are the fork rule's TSG251.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..._registry import Severity
from ..._text import one_line
from ..astutil import FunctionNode, const_int
from ..context import ClassInfo, ModuleInfo, Rule
from ..facts import Draft

__all__ = ["CODES", "RULES"]

CODES = frozenset({"TSG152", "TSG452", "TSG552"})

_WORKER_AWARE = frozenset(
    {
        "torch.utils.data.get_worker_info",
        "torch.utils.data._utils.worker.get_worker_info",
        "threadsafe_gen.shard",
        "threadsafe_gen.worker_info",
    }
)
#: Unresolved names that still say "which worker am I" (imported through a helper module).
_WORKER_AWARE_NAMES = frozenset({"get_worker_info", "shard", "worker_info"})
_GRAIN_MAPS = frozenset({"Map", "MapTransform", "MapWithIndex", "MapWithIndexTransform"})
_GRAIN_MAP_METHODS = frozenset({"map", "map_with_index"})
_NUMPY_SEEDED = frozenset({"default_rng", "RandomState", "Generator", "SeedSequence"})
_STDLIB_HARMLESS = frozenset({"Random", "SystemRandom", "getstate", "setstate"})


def _uses(module: ModuleInfo, root: str) -> bool:
    return any(q.split(".")[0] == root for q in module.names.imports.values())


def _is_torch(q: str | None, name: str) -> bool:
    return q is not None and q.split(".")[0] == "torch" and q.rsplit(".", 1)[-1] == name


def _dataloader_calls(module: ModuleInfo) -> Iterator[ast.Call]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call) and _is_torch(module.names.call_name(node), "DataLoader"):
            yield node


def _keyword(call: ast.Call, name: str, position: int | None = None) -> ast.expr | None:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _workers(call: ast.Call) -> int | None:
    """num_workers as a literal; -1 for an expression; None when absent (0 workers)."""
    value = _keyword(call, "num_workers")
    if value is None:
        return None
    n = const_int(value)
    return -1 if n is None else n


# --- TSG452: IterableDataset without worker sharding --------------------------------------------


def _iterable_classes(module: ModuleInfo) -> list[ClassInfo]:
    """Classes of this module that derive from torch's IterableDataset (directly or locally)."""
    found: list[ClassInfo] = []
    names: set[str] = set()
    for cls in module.classes:  # in source order: a local base comes first
        for base in cls.node.bases:
            q = module.names.qualname(base)
            if _is_torch(q, "IterableDataset") or (isinstance(base, ast.Name) and base.id in names):
                found.append(cls)
                names.add(cls.name)
                break
    return found


def _consults(module: ModuleInfo, fn: FunctionNode, cls: ClassInfo, depth: int = 0) -> bool:
    """*fn* (or a method of *cls* it calls, one level) asks which worker runs it."""
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        q = module.names.call_name(node)
        if q in _WORKER_AWARE or (
            q is not None
            and q.startswith("threadsafe_gen.")
            and q.endswith((".shard", ".worker_info"))
        ):
            return True
        f = node.func
        short = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if short in _WORKER_AWARE_NAMES or short in module.generators.threadsafe:
            return True
        if (
            depth == 0
            and isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and f.attr in cls.methods
            and _consults(module, cls.methods[f.attr], cls, depth + 1)
        ):
            return True
    return False


def _instances(module: ModuleInfo, class_name: str) -> set[str]:
    """Names assigned an instance of *class_name* (``ds = Lines(...)``)."""
    out: set[str] = set()
    for a in module.assigns:
        v = a.value
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == class_name:
            out.update(t.id for t in a.targets if isinstance(t, ast.Name))
    return out


def _loaders_of(module: ModuleInfo, cls: ClassInfo) -> Iterator[tuple[ast.Call, int]]:
    """DataLoader calls given an instance of *cls* with more than one worker (-1: unknown)."""
    names = _instances(module, cls.name)
    for call in _dataloader_calls(module):
        data = _keyword(call, "dataset", 0)
        direct = (
            isinstance(data, ast.Call)
            and isinstance(data.func, ast.Name)
            and data.func.id == cls.name
        )
        if not (direct or (isinstance(data, ast.Name) and data.id in names)):
            continue
        n = _workers(call)
        if n is not None and (n > 1 or n == -1):
            yield call, n


def _not_sharded(module: ModuleInfo) -> Iterator[Draft]:
    for cls in _iterable_classes(module):
        iter_fn = cls.methods.get("__iter__")
        if iter_fn is None or _consults(module, iter_fn, cls):
            continue
        for call, n in _loaders_of(module, cls):
            workers = (
                f"num_workers={n}"
                if n > 0
                else f"num_workers={one_line(ast.unparse(_keyword(call, 'num_workers') or call), 40)}"
            )
            times = f"{n} times" if n > 0 else "once per worker"
            yield module.draft(
                "TSG452",
                iter_fn,
                f"{cls.name}.__iter__",
                (
                    f"{cls.name} is an IterableDataset given to DataLoader({workers}) in this "
                    "module, and its __iter__ never asks which worker runs it: each "
                    f"worker runs its own copy, so every item arrives {times} per epoch"
                ),
                severity=None if n > 0 else Severity.WARNING,
            )
            break


# --- TSG152: lambdas for spawned workers --------------------------------------------------------


def _local_functions(fn: FunctionNode) -> set[str]:
    """Names a function body binds to nested functions or lambdas."""
    out: set[str] = set()
    for node in ast.walk(fn):
        if node is fn:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return out


def _module_lambdas(module: ModuleInfo) -> set[str]:
    return {
        t.id
        for stmt in module.tree.body
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Lambda)
        for t in stmt.targets
        if isinstance(t, ast.Name)
    }


def _context(module: ModuleInfo, call: ast.Call) -> str | None:
    """The start method a DataLoader call names (``"spawn"``...), ``""`` when not a literal,
    None when it names none (multiprocessing's default)."""
    value = _keyword(call, "multiprocessing_context")
    if value is None:
        return None
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    if isinstance(value, ast.Call) and (module.names.call_name(value) or "").endswith(
        "get_context"
    ):
        arg = value.args[0] if value.args else None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
    return ""


def _scoped_calls(module: ModuleInfo) -> Iterator[tuple[ast.Call, set[str]]]:
    """Each torch DataLoader call with the local function names visible where it is made."""
    module_level = _module_lambdas(module)
    inside: set[int] = set()
    for fn in ast.walk(module.tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local = _local_functions(fn) | module_level
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Call)
                    and id(node) not in inside
                    and _is_torch(module.names.call_name(node), "DataLoader")
                ):
                    inside.add(id(node))
                    yield node, local
    for call in _dataloader_calls(module):
        if id(call) not in inside:
            yield call, module_level


def _lambdas(module: ModuleInfo) -> Iterator[Draft]:
    for call, local in _scoped_calls(module):
        n = _workers(call)
        method = _context(module, call)
        if n is None or n == 0 or method == "fork":
            continue
        for arg in ("collate_fn", "worker_init_fn"):
            value = _keyword(call, arg)
            if isinstance(value, ast.Lambda):
                what = "a lambda"
            elif isinstance(value, ast.Name) and value.id in local:
                what = f"{value.id}, a lambda or a function defined inside another function,"
            else:
                continue
            explicit = method in ("spawn", "forkserver")
            when = (
                f"with multiprocessing_context={method!r} its workers cannot unpickle it"
                if explicit
                else "workers started with spawn or forkserver (macOS, Windows, Linux from "
                "Python 3.14) cannot unpickle it"
            )
            yield module.draft(
                "TSG152",
                value,
                "",
                f"DataLoader gets {what} as {arg}: it is pickled into every worker by name, and {when}",
                severity=None if explicit else Severity.WARNING,
            )


# --- TSG552: global RNG in a Grain Map ---------------------------------------------------------


def _grain_maps(module: ModuleInfo) -> Iterator[ClassInfo]:
    for cls in module.classes:
        for base in cls.node.bases:
            q = module.names.qualname(base)
            if q is not None and q.split(".")[0] == "grain" and q.rsplit(".", 1)[-1] in _GRAIN_MAPS:
                yield cls
                break


def _global_draw(module: ModuleInfo, call: ast.Call) -> str | None:
    q = module.names.call_name(call)
    if q is None:
        return None
    parts = q.split(".")
    if q.startswith("numpy.random.") and len(parts) == 3:
        if parts[2] in _NUMPY_SEEDED and (call.args or call.keywords):
            return None
        return q if parts[2] not in {"seed", "get_state", "set_state"} else None
    if q.startswith("random.") and len(parts) == 2 and parts[1] not in _STDLIB_HARMLESS:
        return q
    return None


def _grain_rng(module: ModuleInfo) -> Iterator[Draft]:
    for cls in _grain_maps(module):
        for name in sorted(_GRAIN_MAP_METHODS & set(cls.methods)):
            for node in ast.walk(cls.methods[name]):
                if not isinstance(node, ast.Call):
                    continue
                q = _global_draw(module, node)
                if q is None:
                    continue
                yield module.draft(
                    "TSG552",
                    node,
                    f"{cls.name}.{name}",
                    f"{cls.name}.{name} calls {q}() in a Grain Map transform: the numbers come "
                    "from a global RNG that Grain does not seed, so the pipeline gives other "
                    "data in every run and after resuming from a checkpoint",
                    hint=(
                        f"Make {cls.name} a grain.transforms.RandomMap and draw from the rng "
                        "argument of random_map(self, element, rng)."
                    ),
                )


def check(module: ModuleInfo) -> Iterator[Draft]:
    """TSG152 and TSG452 for torch DataLoaders, TSG552 for Grain Map transforms."""
    if _uses(module, "torch"):
        yield from _lambdas(module)
        yield from _not_sharded(module)
    if _uses(module, "grain"):
        yield from _grain_rng(module)


RULES = (Rule("torch-and-grain-loaders", CODES, check),)
