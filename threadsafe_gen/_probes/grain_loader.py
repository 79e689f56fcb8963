"""Probes for a Grain ``DataLoader``, ``MapDataset`` or ``IterDataset``, run with Grain's own
worker processes.

Grain (0.2.x) always starts its workers with ``spawn`` and sends them the pipeline pickled
with ``cloudpickle``; every worker reads its source with ``ReadOptions.num_threads`` threads.
The worker count comes from the loader (a ``DataLoader``'s ``worker_count``, a pipeline's
``mp_prefetch``); ``check_loader(workers=N)`` overrides it (a pipeline without
``mp_prefetch`` is then run as ``.mp_prefetch(MultiprocessingOptions(num_workers=N))``).

The probes, in order:

* ``pickling``: the parts Grain pickles (a DataLoader's ``data_source``, ``sampler`` and
  ``operations[i]``; a pipeline's ``source`` and ``map(...)`` nodes, its
  ``worker_init_fn``) walked with cloudpickle, as Grain ships them, for the unpicklable
  member with its path (TSG101);
* ``grain_dry_run``: the pipeline run by Grain's workers on a helper thread with a deadline.
  Grain has no per-batch timeout and its ``close()`` waits 25 s per stuck worker, so at the
  deadline the workers are killed by pid first. It finds an ``IterDataset`` that every
  worker replays (TSG402, with the measured factor), a worker that hangs (TSG801), dies
  (TSG821) or raises (TSG822, including Grain's "Cannot slice IterDataset source");
* ``grain_randomness``: a ``Map`` transform that draws from numpy's or Python's global RNG
  (found by the state it changes, on one element in this process): not reproducible
  (TSG504; Grain seeds spawned workers from the OS, so nothing repeats). With an
  ``mp_prefetch(worker_init_fn=...)``, the same element is drawn in every real worker:
  identical draws mean the init resets the seed (TSG501).

The dry run stops after ``max_batches`` elements instead of exhausting the pipeline, which
also avoids the shared-memory blocks Grain 0.2.18 leaks when an iterator runs to its end.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import multiprocessing
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .._finding import Finding, make_finding
from .._frameworks import (
    GrainSettings,
    framework_kind,
    framework_worker_info,
    grain_nodes,
    grain_settings,
)
from .._registry import Severity
from .._text import short_repr, type_name
from ._calls import Caller
from ._child import fingerprint
from ._context import Probe, ProbeContext
from ._loaders import (
    describe_error,
    draw,
    duplication,
    framework_context,
    kill,
    pickled_part_findings,
    rng_restored,
    rng_state,
    select,
    shared_finding,
)
from ._pool import exit_if_bootstrapping

__all__ = ["CODES", "PROBES", "PROBE_NAMES", "make_context", "report_settings", "select_probes"]

CODES: frozenset[str] = frozenset({"TSG504"})

_WORKER_PREFIX = "grain-process-prefetch"
#: Extra seconds for the first element: spawned workers import __main__ and grain.
_STARTUP = 20.0


# --- the context -------------------------------------------------------------------------------------


def _planned(ctx: ProbeContext) -> int:
    """Worker processes planned (0: the pipeline runs in this process)."""
    return ctx.workers if ctx.use_multiprocessing else 0


def make_context(
    loader: Any,
    kind: str,
    *,
    workers: int | None,
    start_method: str | None,
    max_batches: int,
    batch_timeout: float,
    deadline: float,
) -> ProbeContext:
    """The ProbeContext of a Grain loader: its own worker count unless *workers* is given.

    Grain always spawns its workers, whatever *start_method* says.
    """
    n = grain_settings(loader).worker_count if workers is None else workers
    return framework_context(
        loader,
        workers=n,
        start_method="spawn",
        max_batches=max_batches,
        batch_timeout=batch_timeout,
        deadline=deadline,
    )


def report_settings(ctx: ProbeContext) -> dict[str, Any]:
    """What the report's settings show of the Grain loader."""
    s = grain_settings(ctx.loader)
    return {"worker_count": _planned(ctx), "read_threads": s.read_threads}


# --- pickling ----------------------------------------------------------------------------------------


def _cloudpickle_dumps() -> Callable[[Any], Any]:
    import cloudpickle  # a dependency of grain, which is imported

    return cloudpickle.dumps  # type: ignore[no-any-return]


def _roots(ctx: ProbeContext, s: GrainSettings) -> list[tuple[str, Any]]:
    """(root path, part) for what Grain pickles into each worker."""
    prefix = "" if framework_kind(ctx.loader) == "grain.DataLoader" else "dataset."
    roots = [(f"{prefix}{path}", part) for path, part in s.parts]
    if s.worker_init_fn is not None:
        roots.append(("worker_init_fn", s.worker_init_fn))
    return roots


def probe_pickling(ctx: ProbeContext) -> list[Finding]:
    """TSG101/TSG102: each part Grain pickles, walked with cloudpickle for the culprits."""
    s = grain_settings(ctx.loader)
    n = _planned(ctx)
    if n:
        severity = Severity.ERROR
        when = (
            "stops training at the first element: Grain pickles the pipeline (with "
            f"cloudpickle) into each of its {n} worker processes"
        )
    else:
        severity = Severity.WARNING
        when = (
            "is harmless with worker_count=0, but Grain's worker processes (worker_count>0, "
            "mp_prefetch) receive the pipeline pickled"
        )
    return pickled_part_findings(ctx, _roots(ctx, s), severity, when, dumps=_cloudpickle_dumps())


# --- the dry run -------------------------------------------------------------------------------------


class _Tag:
    """A map function that pairs each element with the Grain worker that made it.

    Module-level, so cloudpickle sends it by reference and the worker imports it.
    """

    def __call__(self, element: Any) -> tuple[Any, int]:
        found = framework_worker_info()
        return element, -1 if found is None else found[0]


def _before_prefetch(ds: Any) -> tuple[Any, Any]:
    """(the pipeline the workers run, the ``worker_init_fn``) of a dataset with mp_prefetch;
    (the dataset itself, None) without."""
    s = grain_settings(ds)
    for node in grain_nodes(ds):
        name = type(node).__name__
        if name in ("_LazyWorkerSliceIterDataset", "_MpContextIterDataset"):
            inner = node._parent
            if type(inner).__name__ == "_LazyWorkerSliceIterDataset":
                inner = inner._parent
            return inner, s.worker_init_fn
    return ds, None


def _pipeline(ctx: ProbeContext) -> tuple[Any, bool]:
    """(what to iterate, whether its elements are tagged with their worker)."""
    import grain

    n = _planned(ctx)
    loader = ctx.loader
    if framework_kind(loader) == "grain.DataLoader":
        if n != grain_settings(loader).worker_count:
            loader = grain.DataLoader(
                data_source=loader._data_source,
                sampler=loader._sampler,
                operations=loader._operations,
                worker_count=n,
                read_options=loader._read_options,
            )
        return loader, False  # the sampler splits the records: nothing to tag
    inner, init = _before_prefetch(loader)
    if framework_kind(inner) == "grain.MapDataset":
        inner = inner.to_iter_dataset()
    if n == 0:
        return inner, False
    options = grain.MultiprocessingOptions(num_workers=n)
    return inner.map(_Tag()).mp_prefetch(options, worker_init_fn=init), True


@dataclasses.dataclass
class _Run:
    items: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # worker, fp
    error: BaseException | None = None
    stuck: bool = False
    cut_by_budget: bool = False
    finished: bool = False
    workers: int = 0
    first_seconds: float | None = None


def _close(it: Any) -> None:
    """Close a Grain iterator (a DataLoaderIterator has no close() in 0.2.18: its inner one)."""
    target = getattr(it, "_iterator", it)
    close = getattr(target, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            pass


def _grain_workers(before: set[Any]) -> list[Any]:
    return [
        p
        for p in multiprocessing.active_children()
        if p not in before and p.name.startswith(_WORKER_PREFIX)
    ]


def _iterate(ctx: ProbeContext, pipeline: Any, tagged: bool, count: int) -> _Run:
    """Up to *count* elements of *pipeline* on a helper thread; stuck workers killed."""
    run = _Run(workers=_planned(ctx))
    before = set(multiprocessing.active_children())
    first = min(ctx.remaining(), ctx.batch_timeout + (_STARTUP if run.workers else 0.0))
    later = min(ctx.remaining(), ctx.batch_timeout)
    try:
        it = iter(pipeline)
    except Exception as exc:
        run.error = exc
        return run
    drawn, thread = draw(it, count, first_timeout=first, timeout=later)
    run.stuck, run.finished, run.first_seconds = drawn.stuck, drawn.finished, drawn.first_seconds
    run.cut_by_budget = drawn.stuck and ctx.remaining() <= 0.05
    workers = _grain_workers(before)
    if drawn.stuck:
        kill([p.pid for p in workers if p.pid is not None])
    _close(it)
    thread.join(5.0)
    for p in workers:
        p.join(1.0)
    if drawn.stuck and run.workers == 0:
        ctx.state.inprocess_unsafe = "an element did not arrive (grain_dry_run)"
    run.error = None if drawn.stuck else drawn.error
    for item in drawn.items:
        element, worker = item if tagged else (item, -1)
        run.items.append((worker, fingerprint(element)))
    # Elements in shared memory are unlinked when freed, and Grain's iterators keep them in
    # reference cycles: collect them now, while Grain's deletion thread runs, not at exit
    # (where the resource tracker reports them as leaked shared memory).
    drawn.items.clear()
    del it, drawn, thread
    if run.workers:
        gc.collect()
        _drain_deletions()
    return run


def _drain_deletions() -> None:
    """Wait until Grain's shared-memory deletion thread has unlinked what was freed (it is
    one thread taking requests in order: a no-op request returns after them)."""
    module = sys.modules.get("grain._src.python.ipc.shared_memory_array")
    pool = getattr(getattr(module, "SharedMemoryArray", None), "_del_thread_pool", None)
    if pool is not None:
        try:
            pool.apply_async(int).wait(5.0)
        except Exception:
            pass


def probe_dry_run(ctx: ProbeContext) -> list[Finding]:
    """TSG402, TSG801, TSG821, TSG822: the pipeline run by Grain's own workers."""
    exit_if_bootstrapping()
    if ctx.state.unpicklable and _planned(ctx):
        ctx.state.note(
            "grain_dry_run: skipped, the workers could not receive the unpicklable parts"
        )
        return []
    pipeline, tagged = _pipeline(ctx)
    run = _iterate(ctx, pipeline, tagged, ctx.max_batches)
    findings = _failure_findings(ctx, run)
    if tagged and run.workers > 1:
        findings += _duplicate_findings(ctx, run)
    return findings


def _records(ctx: ProbeContext, position: int) -> list[Any] | None:
    """The record keys behind output element *position* of a DataLoader, when known: its
    operations keep one element per record until an optional Batch (no Filter)."""
    loader = ctx.loader
    if framework_kind(loader) != "grain.DataLoader":
        return None
    size = 1
    for op in loader._operations:
        if _is(op, "Batch"):
            size = int(getattr(op, "batch_size", 1))
            break
        if not _is(op, "Map", "RandomMap", "MapWithIndex", "TfRandomMap"):
            return None
    try:
        sampler = loader._sampler
        return [sampler[k].record_key for k in range(position * size, (position + 1) * size)]
    except Exception:
        return None


def _located(ctx: ProbeContext, run: _Run, *, died: bool) -> tuple[str, str, dict[str, Any]]:
    """(path, words, details) for the element a failure is about.

    Grain takes the elements from its workers in turn, so output element p comes from
    worker p % n. A dead worker is named with how many of its elements had arrived.
    """
    p = len(run.items)
    worker = p % run.workers if run.workers else None
    details: dict[str, Any] = {"worker": worker, "element": p}
    if died and worker is not None:
        tagged = bool(run.items) and run.items[0][0] >= 0
        done = (
            sum(1 for w, _fp in run.items if w == worker)
            if tagged
            else (p - worker + run.workers - 1) // run.workers
        )
        return "dataset", f"worker {worker} (after {done} of its elements had arrived)", details
    who = f"worker {worker}" if worker is not None else "computed in this process"
    records = _records(ctx, p)
    if records is None:
        return "dataset", f"output element #{p} ({who})", details
    details["records"] = records
    shown = ", ".join(str(r) for r in records[:8]) + (", ..." if len(records) > 8 else "")
    return f"data_source[{shown}]", f"output element #{p} ({who}, records [{shown}])", details


def _failure_findings(ctx: ProbeContext, run: _Run) -> list[Finding]:
    died = run.error is not None and "terminated unexpectedly" in str(run.error)
    path, where, details = _located(ctx, run, died=died)
    if run.stuck and run.cut_by_budget:
        ctx.state.cut_short = f"grain_dry_run stopped at {where} when the time budget ran out"
        return []
    if run.stuck:
        killed = "; the workers were killed" if run.workers else ""
        return [
            shared_finding(
                "TSG801",
                path=path,
                message=(
                    f"{where} did not arrive within {ctx.batch_timeout:.1f} s{killed}. Grain "
                    "has no per-element timeout and waits for a live worker for ever, so "
                    "training would hang here"
                ),
                details=details,
            )
        ]
    if run.error is None:
        return []
    return [_error_finding(run, path, where, details)]


def _error_finding(run: _Run, path: str, where: str, details: dict[str, Any]) -> Finding:
    exc = run.error
    assert exc is not None
    text = str(exc)
    exited = re.search(r"terminated unexpectedly with exit code (-?\d+)", text)
    if exited:
        return shared_finding(
            "TSG821",
            path=path,
            message=(
                f"a Grain worker process died: {where}, exit code "
                f"{exited.group(1)}. Training stops with Grain's RuntimeError, which names "
                "neither the worker nor the element"
            ),
            details={**details, "exitcode": int(exited.group(1))},
        )
    hint = None
    if "Cannot slice" in text:
        hint = (
            "Grain gives each worker a slice of an IterDataset by calling set_slice() on its "
            "source: implement set_slice(self, sl: slice, sequential_slice=False) and yield "
            "only the items at positions sl.start::sl.step, or build the pipeline from a "
            "MapDataset (random access), which Grain slices itself."
        )
    elif type(exc).__name__ == "UnparsedFlagAccessError":
        hint = (
            "grain 0.2.x with jax installed reads absl flags: call "
            "absl.flags.FLAGS.mark_as_parsed() before iterating outside absl.app.run()."
        )
    return shared_finding(
        "TSG822",
        path=path,
        message=f"{where} raised {describe_error(exc)}; training stops with it there",
        hint=hint,
        details={**details, "exception_type": type_name(exc), "exception_message": text},
    )


def _duplicate_findings(ctx: ProbeContext, run: _Run) -> list[Finding]:
    """TSG402: an IterDataset whose source ignores the slice each worker is given."""
    dup = duplication(run.items)
    if not dup.replicated:
        return []
    return [
        shared_finding(
            "TSG402",
            path="dataset.set_slice",
            message=(
                f"each of the {run.workers} Grain workers runs the whole IterDataset: its "
                "source ignores the slice Grain gives each worker (set_slice), so every "
                f"element arrives {dup.factor:.2f} times ({dup.measured('elements')})"
            ),
            hint=(
                "In the source's set_slice(sl, sequential_slice), keep sl and yield only the "
                "items at positions sl.start::sl.step; or build the pipeline from a MapDataset, "
                "or split with threadsafe_gen.shard(), which reads the Grain worker's index."
            ),
            severity=Severity.ERROR,
            details=dup.details("elements"),
        )
    ]


# --- randomness --------------------------------------------------------------------------------------


def _is(obj: Any, *names: str) -> bool:
    return any(c.__name__ in names and c.__module__.startswith("grain.") for c in type(obj).__mro__)


def _global_rng_user(fn: Callable[[], Any], caller: Caller, timeout: float) -> tuple[bool, Any]:
    """(whether *fn* changed a global RNG's state, its result); fn runs on *caller*."""
    with rng_restored():
        before = rng_state()
        out = caller.call(fn, timeout)
        if out is None or out.error is not None:
            raise _Stop
        return rng_state() != before, out.value


class _Stop(Exception):
    pass


def _loader_culprits(loader: Any, caller: Caller, timeout: float) -> list[tuple[str, Any, Any]]:
    """(path, transform, its input) of a DataLoader's Map operations that use a global RNG."""
    import numpy as np

    meta = loader._sampler[0]
    changed, element = _global_rng_user(
        lambda: loader._data_source[meta.record_key], caller, timeout
    )
    found = []
    for i, op in enumerate(loader._operations):
        if _is(op, "RandomMap", "TfRandomMap"):
            _c, element = _global_rng_user(
                functools.partial(op.random_map, element, np.random.default_rng(0)), caller, timeout
            )
        elif _is(op, "Map"):
            changed, out = _global_rng_user(functools.partial(op.map, element), caller, timeout)
            if changed:
                found.append((f"operations[{i}]", op, element))
            element = out
        else:
            break  # Batch, Filter, ...: later operations see other inputs
    return found


def _dataset_culprits(ds: Any, caller: Caller, timeout: float) -> list[tuple[str, Any, Any]]:
    """(path, map node, None) of MapDataset map nodes whose transform uses a global RNG."""
    found = []
    for node in grain_nodes(ds):
        transform = getattr(node, "_transform", None)
        if (
            transform is None
            or framework_kind(node) != "grain.MapDataset"
            or "Random" in type(node).__name__
        ):
            continue
        parents = list(node.parents)
        if parents:
            parent_changed, _ = _global_rng_user(
                functools.partial(parents[0].__getitem__, 0), caller, timeout
            )
            if parent_changed:
                continue
        changed, _ = _global_rng_user(functools.partial(node.__getitem__, 0), caller, timeout)
        if changed:
            shown = getattr(transform, "__qualname__", None) or type(transform).__qualname__
            found.append((f"dataset.map({shown})", node, None))
    return found


def probe_randomness(ctx: ProbeContext) -> list[Finding]:
    """TSG504 (a Map transform using a global RNG) and TSG501 (worker_init_fn repeats it)."""
    exit_if_bootstrapping()
    caller = Caller("threadsafe_gen-grain-rng")
    try:
        if framework_kind(ctx.loader) == "grain.DataLoader":
            culprits = _loader_culprits(ctx.loader, caller, ctx.call_timeout())
        else:
            culprits = _dataset_culprits(ctx.loader, caller, ctx.call_timeout())
    except _Stop:
        return []  # the element raised or hung: the dry run reports that
    finally:
        caller.close()
    findings = [_reproducibility_finding(path, obj) for path, obj, _input in culprits]
    s = grain_settings(ctx.loader)
    nodes = [obj for _p, obj, _i in culprits if framework_kind(obj) == "grain.MapDataset"]
    if nodes and s.worker_init_fn is not None and _planned(ctx) > 1:
        findings += _repeats_across_workers(ctx, nodes[0], s)
    return findings


def _reproducibility_finding(path: str, obj: Any) -> Finding:
    transform = getattr(obj, "_transform", obj)
    name = getattr(transform, "__qualname__", None) or type(transform).__qualname__
    return make_finding(
        "TSG504",
        path=path,
        message=(
            f"{name} draws from a global RNG (numpy.random.* or random.*) in a Grain map: "
            "Grain seeds its spawned workers from the OS, so the workers do not repeat each "
            "other, but every run (and a run resumed from a checkpoint) draws other numbers: "
            "the pipeline is not reproducible"
        ),
        details={"transform": short_repr(transform)},
    )


class _SameElement:
    """``i -> pipeline[0]``: every element of a probe pipeline is the same input, drawn anew."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def __call__(self, _index: Any) -> Any:
        return self.pipeline[0]


def _repeats_across_workers(ctx: ProbeContext, node: Any, s: GrainSettings) -> list[Finding]:
    """TSG501: element 0 drawn twice in every real worker; identical across workers."""
    import grain

    n = _planned(ctx)
    if ctx.remaining() < ctx.batch_timeout:
        ctx.state.note("grain_randomness: no time left for the worker run")
        return []
    probe = grain.MapDataset.range(2 * n).map(_SameElement(node)).to_iter_dataset()
    pipeline = probe.map(_Tag()).mp_prefetch(
        grain.MultiprocessingOptions(num_workers=n), worker_init_fn=s.worker_init_fn
    )
    run = _iterate(ctx, pipeline, True, 2 * n)
    per: dict[int, list[str]] = {}
    for worker, fp in run.items:
        per.setdefault(worker, []).append(fp)
    if run.error is not None or len(per) < 2 or not any(len(set(v)) > 1 for v in per.values()):
        return []
    if len({v[0] for v in per.values()}) != 1:
        return []
    return [
        shared_finding(
            "TSG501",
            path="worker_init_fn",
            message=(
                f"the same element drawn in each of the {len(per)} Grain workers gave the same "
                "'random' output in all of them (and different ones within a worker): the "
                "worker_init_fn seeds the global RNG with the same value in every worker, so "
                "the workers replay the same augmentations"
            ),
            hint=(
                "Use grain.transforms.RandomMap (random_map(element, rng)): Grain gives each "
                "element its own seeded rng. Or seed from the worker index: "
                "np.random.seed(base_seed + worker_index)."
            ),
            details={"workers": sorted(per)},
        )
    ]


# --- the probes --------------------------------------------------------------------------------------

PROBES: tuple[Probe, ...] = (
    Probe("pickling", probe_pickling, records=("unpicklable",)),
    Probe("grain_dry_run", probe_dry_run, reads=("unpicklable",)),
    Probe("grain_randomness", probe_randomness),
)

#: The names check_loader(probes=[...]) accepts for Grain loaders.
PROBE_NAMES: tuple[str, ...] = tuple(p.name for p in PROBES)


def select_probes(wanted: Sequence[Any] | None) -> list[Probe]:
    """The probes to run for a Grain loader: all, or those named (custom functions last)."""
    return select(PROBES, wanted)
