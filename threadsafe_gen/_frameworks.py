"""PyTorch and Grain loaders, recognised and read without importing either framework.

``check_loader()`` and ``worker_info()`` must work with the loaders Keras 3 ``fit()``
accepts besides its own: a PyTorch ``DataLoader`` (or a ``Dataset`` / ``IterableDataset``)
and a Grain ``DataLoader``, ``MapDataset`` or ``IterDataset``. An instance of one of their
classes means the framework is already imported, so everything here first looks at
``sys.modules`` (a dictionary lookup, a few microseconds) and only then at the object's
class hierarchy by name, never importing torch or grain itself.

Internal: :func:`framework_kind`, :func:`torch_settings`, :func:`grain_settings`,
:func:`grain_nodes` and :func:`framework_worker_info`. This module imports nothing of ours,
so the low-level worker machinery (``_sharding``) can build on it.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, Literal

__all__ = [
    "FrameworkKind",
    "GrainSettings",
    "TorchSettings",
    "framework_kind",
    "framework_worker_info",
    "grain_nodes",
    "grain_settings",
    "torch_settings",
]

# NOTE [ Private attributes of the frameworks ]
# torch's DataLoader exposes its settings publicly. Grain 0.2.x keeps a DataLoader's parts in
# private attributes (_data_source, _sampler, _operations, _read_options) and its pipeline
# nodes' user code in _source / _transform; Keras' own Grain adapter reads the same ones, so
# they are de facto stable. Every read here is guarded: a missing attribute gives "unknown",
# never an exception in the caller.

FrameworkKind = Literal[
    "torch.DataLoader",
    "torch.IterableDataset",
    "torch.Dataset",
    "grain.DataLoader",
    "grain.MapDataset",
    "grain.IterDataset",
]

_TORCH_DATA = "torch.utils.data"
_GRAIN_PREFETCH = "grain._src.python.dataset.transformations.process_prefetch"
_TORCH_NAMES: dict[str, FrameworkKind] = {
    "DataLoader": "torch.DataLoader",
    "IterableDataset": "torch.IterableDataset",
    "Dataset": "torch.Dataset",
}
_GRAIN_NAMES: dict[str, FrameworkKind] = {
    "DataLoader": "grain.DataLoader",
    "MapDataset": "grain.MapDataset",
    "IterDataset": "grain.IterDataset",
}


def framework_kind(obj: Any) -> FrameworkKind | None:
    """Which PyTorch or Grain loader *obj* is, or None; imports neither framework.

    The first class of ``type(obj).__mro__`` that is one of the frameworks' loader classes
    decides (so an ``IterableDataset`` subclass is not taken for a map-style ``Dataset``).
    """
    torch_loaded = _TORCH_DATA in sys.modules
    grain_loaded = "grain" in sys.modules
    if not (torch_loaded or grain_loaded) or isinstance(obj, type):
        return None
    for cls in type(obj).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if torch_loaded and module.startswith(_TORCH_DATA):
            kind = _TORCH_NAMES.get(cls.__name__)
            if kind is not None:
                return kind
        if grain_loaded and module.startswith("grain."):
            kind = _GRAIN_NAMES.get(cls.__name__)
            if kind is not None:
                return kind
    return None


def _default_start_method() -> str:
    return (
        multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_context().get_start_method()
    )


@dataclasses.dataclass(frozen=True)
class TorchSettings:
    """The worker settings of a torch ``DataLoader``, as its workers will run.

    Attributes:
        num_workers: worker processes (0: the data is loaded in the calling process).
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"``: the loader's
            ``multiprocessing_context``, else multiprocessing's default.
        explicit_context: the loader names its ``multiprocessing_context``.
        iterable: the dataset is an ``IterableDataset`` (each worker runs a copy of it).
        batch_size: ``None`` when batching is off.
        persistent_workers: workers survive between epochs.
        worker_init_fn: called in each worker after torch seeded it, or None.
        collate_fn: how samples become a batch (``default_collate`` unless set).
        timeout: the loader's own per-batch timeout in seconds (0: none).
    """

    num_workers: int
    start_method: str
    explicit_context: bool
    iterable: bool
    batch_size: int | None
    persistent_workers: bool
    worker_init_fn: Callable[..., Any] | None
    collate_fn: Callable[..., Any] | None
    timeout: float


def torch_settings(loader: Any) -> TorchSettings:
    """The :class:`TorchSettings` of a torch ``DataLoader`` (public attributes only)."""
    context = getattr(loader, "multiprocessing_context", None)
    method = context.get_start_method() if context is not None else _default_start_method()
    kind = framework_kind(getattr(loader, "dataset", None))
    return TorchSettings(
        num_workers=int(getattr(loader, "num_workers", 0) or 0),
        start_method=str(method),
        explicit_context=context is not None,
        iterable=kind == "torch.IterableDataset",
        batch_size=getattr(loader, "batch_size", None),
        persistent_workers=bool(getattr(loader, "persistent_workers", False)),
        worker_init_fn=getattr(loader, "worker_init_fn", None),
        collate_fn=getattr(loader, "collate_fn", None),
        timeout=float(getattr(loader, "timeout", 0) or 0),
    )


# --- Grain --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GrainSettings:
    """The worker settings of a Grain ``DataLoader`` or dataset pipeline.

    Attributes:
        worker_count: worker processes (Grain always starts them with spawn); 0 when the
            pipeline has no ``mp_prefetch`` and the ``DataLoader``'s ``worker_count`` is 0.
        read_threads: threads each worker reads the source with (``ReadOptions.num_threads``),
            or None when unknown.
        worker_init_fn: the ``worker_init_fn(index, count)`` given to ``mp_prefetch``, or None.
        parts: the user's objects each worker receives, by path: ``data_source``,
            ``sampler`` and ``operations[i]`` of a ``DataLoader``; ``source`` and
            ``map(Name)`` nodes of a pipeline.
    """

    worker_count: int
    read_threads: int | None
    worker_init_fn: Callable[[int, int], Any] | None
    parts: tuple[tuple[str, Any], ...]


def _children(node: Any) -> list[Any]:
    """The nodes a pipeline node reads from: ``parents``, and an interleave's datasets."""
    try:
        out = list(node.parents)
    except Exception:
        out = []
    for extra in getattr(node, "_datasets", None) or ():
        if not any(extra is o for o in out):
            out.append(extra)
    return out


def grain_nodes(ds: Any) -> Iterator[Any]:
    """Every node of a Grain pipeline (a DAG), each once, from the output to the sources."""
    seen: set[int] = set()
    stack = [ds]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(reversed(_children(node)))


def _user_init(node: Any) -> Callable[[int, int], Any] | None:
    """The user's ``worker_init_fn`` inside a ProcessPrefetchIterDataset node, or None.

    ``mp_prefetch`` wraps it as ``partial(_run_all, [set_prefix, partial(fn, i, n)])``.
    """
    wrapped = getattr(node, "_worker_init_fn", None)
    fns = getattr(wrapped, "args", ((),))[0] if wrapped is not None else ()
    for fn in fns if isinstance(fns, (list, tuple)) else ():
        if isinstance(fn, functools.partial) and len(fn.args) == 2:
            return fn.func
    return None


def _node_part(node: Any) -> tuple[str, Any] | None:
    """(path, user object) of a pipeline node holding user code, else None."""
    name = type(node).__name__
    source = getattr(node, "_source", None)
    if name == "SourceMapDataset" and source is not None:
        return "source", source
    transform = getattr(node, "_transform", None)
    if transform is None or type(node).__module__.startswith("grain._src.python.data_loader"):
        return None
    shown = getattr(transform, "__qualname__", None) or type(transform).__qualname__
    op = "random_map" if "Random" in name else "map"
    return f"{op}({shown})", transform


def grain_settings(obj: Any) -> GrainSettings:
    """The :class:`GrainSettings` of a Grain ``DataLoader``, ``MapDataset`` or ``IterDataset``."""
    if framework_kind(obj) == "grain.DataLoader":
        mp_options = getattr(obj, "multiprocessing_options", None)
        read = getattr(obj, "_read_options", None)
        parts: list[tuple[str, Any]] = [("data_source", getattr(obj, "_data_source", None))]
        parts.append(("sampler", getattr(obj, "_sampler", None)))
        for i, op in enumerate(getattr(obj, "_operations", None) or ()):
            parts.append((f"operations[{i}]", op))
        return GrainSettings(
            worker_count=int(getattr(mp_options, "num_workers", 0) or 0),
            read_threads=getattr(read, "num_threads", None),
            worker_init_fn=None,
            parts=tuple((p, o) for p, o in parts if o is not None),
        )
    workers, threads, init = 0, None, None
    found: list[tuple[str, Any]] = []
    for node in grain_nodes(obj):
        name = type(node).__name__
        if name == "_MpContextIterDataset":
            workers = max(workers, int(getattr(node._mp_context, "process_count", 1)))
        elif name == "ProcessPrefetchIterDataset":
            workers = max(workers, 1)
            init = init or _user_init(node)
        read = getattr(node, "_read_options", None)
        if read is not None and threads is None:
            threads = getattr(read, "num_threads", None)
        part = _node_part(node)
        if part is not None and not any(part[1] is o for _, o in found):
            found.append(part)
    return GrainSettings(
        worker_count=workers, read_threads=threads, worker_init_fn=init, parts=tuple(found)
    )


# --- worker identity ----------------------------------------------------------------------------

#: (pid, (index, count)) of the Grain worker this process is, found once per process.
_grain_cached: tuple[int, tuple[int, int]] | None = None


def _torch_worker() -> tuple[int, int, int | None, str] | None:
    tud = sys.modules.get(_TORCH_DATA)
    get = getattr(tud, "get_worker_info", None)
    if get is None:
        return None
    info = get()  # None in the main process
    if info is None:
        return None
    return int(info.id), int(info.num_workers), int(info.seed), "torch"


def _grain_worker() -> tuple[int, int, int | None, str] | None:
    global _grain_cached
    prefetch = sys.modules.get(_GRAIN_PREFETCH)
    in_worker = getattr(prefetch, "is_in_worker_process", None)
    if in_worker is None or not in_worker():
        return None
    pid = os.getpid()
    if _grain_cached is None or _grain_cached[0] != pid:
        # Grain (0.2.x) has no worker-index API: the index lives only in the pipeline this
        # worker unpickled, _MpContextIterDataset(MultiprocessingContext(process_index, count)).
        # One scan per worker process (milliseconds); private, so guarded.
        found = (0, 1)
        try:
            for obj in gc.get_objects():
                if type(obj).__name__ == "_MpContextIterDataset":
                    ctx = obj._mp_context
                    found = (int(ctx.process_index), int(ctx.process_count))
                    break
        except Exception:
            pass
        _grain_cached = (pid, found)
    index, count = _grain_cached[1]
    return index, count, None, "grain"


def framework_worker_info() -> tuple[int, int, int | None, str] | None:
    """``(index, count, seed or None, "torch" | "grain")`` inside a torch or Grain worker.

    None in any other process (and whenever neither framework is imported).
    """
    return _torch_worker() or _grain_worker()
