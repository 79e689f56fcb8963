"""Probes for a PyTorch ``DataLoader`` (or a ``Dataset`` / ``IterableDataset``), run with
torch's own worker processes.

``check_loader()`` sends torch loaders here before anything treats them as a Keras sequence
or generator (a ``DataLoader`` iterated inside one of our daemonic probe processes fails with
"daemonic processes are not allowed to have children"). The worker settings come from the
loader: ``num_workers``, ``multiprocessing_context``, ``worker_init_fn``, ``collate_fn``,
``batch_size``; ``check_loader(workers=..., start_method=...)`` overrides them. A bare
dataset is checked as ``DataLoader(dataset, batch_size=None, num_workers=workers or 2)``.

The probes, in order:

* ``pickling``: what torch pickles into spawn/forkserver workers (the dataset,
  ``collate_fn``, ``worker_init_fn``; never the sampler, which stays in this process),
  walked for the unpicklable member with its path (TSG101, TSG102);
* ``torch_dry_run``: a bounded copy of the loader iterated on the calling thread by torch's
  own workers, with torch's ``timeout`` as the per-batch limit. It finds an
  ``IterableDataset`` that every worker replays in full (TSG402, with the measured factor),
  a batch that hangs (TSG801), a worker that dies (TSG821) or raises (TSG822), each with the
  worker and the sampler's indices, and the copy-on-read memory growth of forked workers
  over a dataset held as millions of Python objects (TSG723, measured by pid);
* ``process_inspection``: connections and open files on the dataset that forked workers
  would share (TSG201);
* ``torch_randomness``: every worker given the same index twice, in two epochs: identical
  "random" samples across workers (TSG501) or epochs (TSG502). torch reseeds Python, numpy
  and torch in every worker, so this only fires when the loader undoes that (a
  ``worker_init_fn`` that seeds a constant, an RNG object stored on the dataset).

Cleanup: the copy never keeps persistent workers; a hung worker is killed by pid (after
torch stops watching it) before torch's own shutdown, so nothing is left running.
"""

from __future__ import annotations

import copy
import dataclasses
import multiprocessing
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from .._finding import Finding, make_finding
from .._frameworks import TorchSettings, torch_settings
from .._registry import Severity
from .._text import exit_description, one_line, some, type_name
from . import pickling
from ._child import fingerprint
from ._context import Probe, ProbeContext, error_if
from ._loaders import (
    BigContainer,
    big_containers,
    describe_error,
    draw,
    duplication,
    framework_context,
    kill,
    mib,
    pickled_part_findings,
    select,
    shared_finding,
    uss_bytes,
)
from ._pool import BOOTSTRAP_EXIT, exit_if_bootstrapping
from .inspection import walk

__all__ = [
    "CODES",
    "COW_MIN_BYTES",
    "PROBES",
    "PROBE_NAMES",
    "make_context",
    "report_settings",
    "select_probes",
]

CODES: frozenset[str] = frozenset({"TSG723"})

#: Copy-on-read growth per worker and epoch from which TSG723 is reported.
COW_MIN_BYTES = 32 * 2**20
#: Extra seconds the first batch may take: worker start-up (spawn re-imports __main__).
_STARTUP = {"fork": 3.0, "spawn": 20.0, "forkserver": 20.0}
#: Workers assumed for a bare Dataset when check_loader(workers=...) is not given.
DEFAULT_WORKERS = 2
_SPAWN_NOTE = "fails on Windows, macOS, and on Linux from Python 3.14"


# --- the context -------------------------------------------------------------------------------------


def _configured(loader: Any, kind: str, workers: int | None, start_method: str | None) -> Any:
    """The DataLoader to check: the user's, a copy with overridden settings, or a new one."""
    from torch.utils.data import DataLoader  # torch is imported: the loader is a torch object

    if kind != "torch.DataLoader":
        n = DEFAULT_WORKERS if workers is None else workers
        return DataLoader(
            loader,
            batch_size=None,
            num_workers=n,
            multiprocessing_context=start_method if n > 0 else None,
        )
    if workers is None and start_method is None:
        return loader
    dl = copy.copy(loader)
    d = dl.__dict__  # DataLoader.__setattr__ refuses these after __init__
    if workers is not None:
        d["num_workers"] = workers
        if workers > 0 and d.get("prefetch_factor") is None:
            d["prefetch_factor"] = 2
        if workers == 0:
            d["prefetch_factor"] = None
    if start_method is not None:
        d["_DataLoader__multiprocessing_context"] = multiprocessing.get_context(start_method)
    d["_iterator"] = None
    return dl


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
    """The ProbeContext of a torch loader: its own worker settings unless overridden."""
    dl = _configured(loader, kind, workers, start_method)
    s = torch_settings(dl)
    return framework_context(
        dl,
        workers=s.num_workers,
        start_method=s.start_method,
        max_batches=max_batches,
        batch_timeout=batch_timeout,
        deadline=deadline,
    )


def report_settings(ctx: ProbeContext) -> dict[str, Any]:
    """What the report's settings show of the torch loader."""
    s = torch_settings(ctx.loader)
    return {
        "num_workers": s.num_workers,
        "start_method": s.start_method if s.num_workers else None,
        "iterable": s.iterable,
        "batch_size": s.batch_size,
    }


# --- pickling ----------------------------------------------------------------------------------------


def _when(ctx: ProbeContext, s: TorchSettings) -> str:
    if s.num_workers == 0:
        return (
            f"is harmless with num_workers=0, but worker processes would need it: it {_SPAWN_NOTE}"
        )
    if s.start_method in ("spawn", "forkserver"):
        return (
            f"stops training at the first batch: DataLoader(multiprocessing_context="
            f"{s.start_method!r}) pickles it into each of its {s.num_workers} workers"
        )
    return f"works with 'fork' but {_SPAWN_NOTE}"


def probe_pickling(ctx: ProbeContext) -> list[Finding]:
    """TSG101/TSG102: what torch pickles into each worker, walked for the culprits."""
    s = torch_settings(ctx.loader)
    parts = [("dataset", ctx.loader.dataset)]
    parts += [
        (name, fn)
        for name, fn in (("collate_fn", s.collate_fn), ("worker_init_fn", s.worker_init_fn))
        if fn is not None
    ]
    return pickled_part_findings(ctx, parts, pickling.spawn_only_severity(ctx), _when(ctx, s))


# --- the dry run -------------------------------------------------------------------------------------


class _Recorder:
    """A sampler wrapper that records what it hands out, in order (send index -> indices).

    It runs in this process (torch never pickles the sampler), so nothing about it reaches
    the workers.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: list[Any] = []

    def __iter__(self) -> Iterator[Any]:
        for index in self.inner:
            self.sent.append(index)
            yield index

    def __len__(self) -> int:
        return len(self.inner)


class _Tagged:
    """A collate_fn wrapper that tags each batch with the worker that made it.

    Module-level, so spawned workers import it by name; it reads the worker's identity
    from torch, which the worker has imported.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, batch: Any) -> tuple[Any, int, int]:
        info = sys.modules["torch.utils.data"].get_worker_info()
        return self.inner(batch), -1 if info is None else int(info.id), os.getpid()


@dataclasses.dataclass
class _Run:
    """What one bounded iteration of a loader copy produced."""

    items: list[tuple[int, str, int]] = dataclasses.field(default_factory=list)  # worker, fp, rows
    pids: list[int] = dataclasses.field(default_factory=list)
    uss_first: dict[int, int] = dataclasses.field(default_factory=dict)
    uss_last: dict[int, int] = dataclasses.field(default_factory=dict)
    batches_by_worker: dict[int, int] = dataclasses.field(default_factory=dict)
    error: BaseException | None = None
    timed_out: bool = False
    cut_by_budget: bool = False
    finished: bool = False
    worker: int | None = None  # the worker that hung, died or raised
    batch: int | None = None  # its batch (send index)
    indices: Any = None  # the sampler's indices of that batch
    exitcode: int | None = None
    seconds: float = 0.0


def _copy(dl: Any, *, timeout: float, batch_sampler: Any = None) -> tuple[Any, _Recorder]:
    """A copy of *dl* that owns its workers, tags batches and records its indices."""
    c = copy.copy(dl)
    d = c.__dict__
    d["timeout"] = timeout if dl.num_workers else 0  # torch refuses one without workers
    d["persistent_workers"] = False
    d["_iterator"] = None
    d["collate_fn"] = _Tagged(dl.collate_fn)
    if batch_sampler is not None:
        d["batch_sampler"] = batch_sampler
        d["sampler"] = None
        d["batch_size"] = None
        d["drop_last"] = False
    if d.get("batch_sampler") is not None:
        recorder = _Recorder(d["batch_sampler"])
        d["batch_sampler"] = recorder
    else:
        recorder = _Recorder(d["sampler"])
        d["sampler"] = recorder
    return c, recorder


def _rows(batch: Any) -> int:
    shape = getattr(batch, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    if isinstance(batch, (list, tuple)) and batch:
        return _rows(batch[0]) if not isinstance(batch[0], (int, float, str)) else len(batch)
    if isinstance(batch, dict) and batch:
        return _rows(next(iter(batch.values())))
    return 1


def _iterate(ctx: ProbeContext, dl: Any, count: int, run: _Run) -> None:
    """Take up to *count* batches from a tagged copy, on the calling thread (torch's timeout)."""
    s = torch_settings(dl)
    t0 = time.monotonic()
    it: Any = None
    first = True
    try:
        it = iter(dl)
        run.pids = [int(w.pid) for w in getattr(it, "_workers", [])]
        while len(run.items) < count:
            limit = ctx.remaining()
            wait = ctx.batch_timeout + (_STARTUP.get(s.start_method, 3.0) if first else 0.0)
            run.cut_by_budget = limit < wait
            if s.num_workers:
                it._timeout = max(0.01, min(wait, limit))  # read on every wait
            batch, worker, pid = next(it)
            first = run.cut_by_budget = False
            fp = fingerprint(batch)
            run.items.append((worker, fp, _rows(batch)))
            run.batches_by_worker[worker] = run.batches_by_worker.get(worker, 0) + 1
            uss = uss_bytes(pid) if s.num_workers else None
            if uss is not None:
                run.uss_first.setdefault(worker, uss)
                run.uss_last[worker] = uss
    except StopIteration:
        run.finished = True
    except Exception as exc:  # the loader's (or torch's) error is a finding
        run.error = exc
        _locate(it, exc, run)
    finally:
        run.seconds = time.monotonic() - t0
        if it is not None:
            _shutdown(it, run)


def _locate(it: Any, exc: BaseException, run: _Run) -> None:
    """Which worker, batch and indices an error of torch's multiprocessing iterator is about."""
    text = str(exc)
    task_info: dict[int, tuple[Any, ...]] = getattr(it, "_task_info", {}) or {}
    sent = getattr(getattr(it, "_index_sampler", None), "sent", [])
    if "timed out after" in text:
        run.timed_out = True
        run.batch = getattr(it, "_rcvd_idx", None)
        info = task_info.get(run.batch) if run.batch is not None else None
        run.worker = int(info[0]) if info else None
    elif "exited unexpectedly" in text or "killed by signal" in text:
        found = re.search(r"pid(?:\(s\))? ([\d, ]+)", text)
        pids = [int(p) for p in re.findall(r"\d+", found.group(1))] if found else []
        workers = getattr(it, "_workers", [])
        for wid, w in enumerate(workers):
            if w.pid in pids:
                run.worker = wid
                w.join(0.5)
                run.exitcode = w.exitcode
                break
        # Its batches not received yet: it died computing one of them.
        pending = sorted(k for k, v in task_info.items() if len(v) == 1 and v[0] == run.worker)
        run.batch = pending[0] if pending else None
        if len(pending) > 1 and pending[-1] < len(sent):
            run.indices = [i for k in pending for i in _as_list(sent[k])]
            return
    else:
        match = re.search(r"in DataLoader worker process (\d+)", text)
        run.worker = int(match.group(1)) if match else None
        rcvd = getattr(it, "_rcvd_idx", None)
        run.batch = rcvd - 1 if isinstance(rcvd, int) and rcvd > 0 else None
    if run.batch is not None and run.batch < len(sent):
        run.indices = sent[run.batch]


def _as_list(indices: Any) -> list[Any]:
    return list(indices) if isinstance(indices, (list, tuple)) else [indices]


def _shutdown(it: Any, run: _Run) -> None:
    """Stop the copy's workers: stuck ones killed by pid first (torch would wait 5 s)."""
    if run.timed_out or run.cut_by_budget:
        try:  # stop torch's SIGCHLD watch of these pids before killing them
            sys.modules["torch.utils.data"]._utils.signal_handling._remove_worker_pids(id(it))
            it._worker_pids_set = False
        except Exception:
            pass
        kill(
            [p for p, w in zip(run.pids, getattr(it, "_workers", []), strict=False) if w.is_alive()]
        )
    shutdown = getattr(it, "_shutdown_workers", None)
    if callable(shutdown):
        try:
            shutdown()
        except Exception:
            pass


def _run(ctx: ProbeContext, count: int, batch_sampler: Any = None) -> _Run:
    """One bounded, tagged iteration of the loader with its own workers."""
    s = torch_settings(ctx.loader)
    dl, _recorder = _copy(ctx.loader, timeout=ctx.batch_timeout, batch_sampler=batch_sampler)
    run = _Run()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's advice on worker counts and pickle errors
        if s.num_workers:
            _iterate(ctx, dl, count, run)
        else:
            _iterate_in_process(ctx, dl, count, run)
    return run


def _iterate_in_process(ctx: ProbeContext, dl: Any, count: int, run: _Run) -> None:
    """num_workers=0: the batches are made in next() itself; draw them on a helper thread."""
    t0 = time.monotonic()
    limit = min(ctx.batch_timeout, ctx.remaining())
    drawn, thread = draw(iter(dl), count, first_timeout=limit, timeout=limit)
    run.seconds = time.monotonic() - t0
    for batch, worker, _pid in drawn.items:
        run.items.append((worker, fingerprint(batch), _rows(batch)))
    run.finished, run.error = drawn.finished, drawn.error
    if drawn.stuck:
        run.timed_out = True
        run.cut_by_budget = limit < ctx.batch_timeout
        run.batch = len(drawn.items)
        ctx.state.inprocess_unsafe = "a batch did not return (torch_dry_run)"
    else:
        thread.join(1.0)


def probe_dry_run(ctx: ProbeContext) -> list[Finding]:
    """TSG402, TSG723, TSG801, TSG821, TSG822: the loader run by torch's own workers."""
    exit_if_bootstrapping()
    s = torch_settings(ctx.loader)
    if ctx.state.unpicklable and s.num_workers and s.start_method != "fork":
        ctx.state.note(
            "torch_dry_run: skipped, the workers could not receive the unpicklable parts"
        )
        return []
    run = _run(ctx, ctx.max_batches)
    findings = _failure_findings(ctx, s, run)
    ctx.state.fork_clean = s.start_method == "fork" and run.error is None and not run.timed_out
    if s.iterable and s.num_workers > 1:
        findings += _duplicate_findings(ctx, s, run)
    if not s.iterable and s.num_workers and s.start_method == "fork":
        findings += _memory_findings(ctx, s, run)
    return findings


def _where(s: TorchSettings, run: _Run) -> tuple[str, str]:
    """(path, words) naming the batch a failure is about."""
    worker = f"worker {run.worker}" if run.worker is not None and run.worker >= 0 else "the loader"
    if s.iterable or run.indices is None:
        batch = f"batch #{run.batch}" if run.batch is not None else "a batch"
        return f"dataset ({worker})", f"{worker}, {batch}"
    shown = some(_as_list(run.indices), 8)
    return f"dataset[{shown}]", f"{worker}, dataset indices [{shown}]"


def _failure_findings(ctx: ProbeContext, s: TorchSettings, run: _Run) -> list[Finding]:
    """TSG801 (hung), TSG821 (died), TSG822 (raised) for the dry run's error, if any."""
    path, where = _where(s, run)
    details: dict[str, Any] = {"worker": run.worker, "batch": run.batch, "indices": run.indices}
    if run.timed_out and run.cut_by_budget:
        ctx.state.cut_short = f"torch_dry_run stopped at {where} when the time budget ran out"
        return []
    if run.timed_out:
        return [
            shared_finding(
                "TSG801",
                path=path,
                message=(
                    f"{where} did not arrive within {ctx.batch_timeout:.1f} s; the worker was "
                    "killed. DataLoader waits for ever by default (timeout=0), so training "
                    "would hang here"
                ),
                details={**details, "batch_timeout": ctx.batch_timeout},
            )
        ]
    if run.error is None:
        return []
    text = describe_error(run.error)
    if run.exitcode == BOOTSTRAP_EXIT:
        return [pickling.unguarded_main_finding(s.start_method, Severity.ERROR, "")]
    if run.exitcode is not None or "exited unexpectedly" in text or "killed by signal" in text:
        how = exit_description(run.exitcode) if run.exitcode is not None else "exited"
        return [
            shared_finding(
                "TSG821",
                path=path,
                message=(
                    f"a DataLoader worker process died while computing its next batch "
                    f"({where}): it {how} "
                    f"(torch: {one_line(str(run.error), 160)}). Training stops with the same "
                    "RuntimeError, which does not name the indices"
                ),
                details={**details, "exitcode": run.exitcode},
            )
        ]
    original = str(run.error).split("Original Traceback", 1)
    lines = [ln for ln in original[-1].splitlines() if ln.strip()]
    said = lines[-1].strip() if len(original) > 1 and lines else describe_error(run.error)
    return [
        shared_finding(
            "TSG822",
            path=path,
            message=(
                f"{where} raised {one_line(said, 300)} in a DataLoader worker; training stops "
                "with it at that batch"
            ),
            details={
                **details,
                "exception_type": type_name(run.error),
                "traceback": original[1] if len(original) > 1 else "",
            },
        )
    ]


def _duplicate_findings(ctx: ProbeContext, s: TorchSettings, run: _Run) -> list[Finding]:
    """TSG402: an IterableDataset replayed in full by every worker."""
    dup = duplication([(w, fp) for w, fp, _rows in run.items])
    if not dup.replicated:
        return []
    return [
        shared_finding(
            "TSG402",
            path="dataset.__iter__",
            message=(
                f"DataLoader(num_workers={s.num_workers}) runs a copy of the IterableDataset "
                f"{type(ctx.loader.dataset).__name__} in every worker, and its __iter__ does not "
                f"split the data by worker: every batch arrives {dup.factor:.2f} times "
                f"({dup.measured('batches')}). Keras trains on each item that many times per "
                "epoch, silently"
            ),
            hint=(
                "Split the items by worker in __iter__: `for i in threadsafe_gen.shard(range(n)):` "
                "(it reads torch's worker id and count), or "
                "torch.utils.data.get_worker_info() and range(info.id, n, info.num_workers)."
            ),
            severity=Severity.ERROR,
            details=dup.details("batches", distinct=True),
        )
    ]


def _memory_findings(ctx: ProbeContext, s: TorchSettings, run: _Run) -> list[Finding]:
    """TSG723: forked workers copy the pages of a dataset held as many Python objects."""
    containers = big_containers(ctx.loader.dataset, "dataset")
    total = sum(c.object_bytes for c in containers)
    if total < COW_MIN_BYTES:
        return []
    try:
        n_items = len(ctx.loader.dataset)
    except Exception:
        return []
    measured = _growth_per_worker(run, n_items, s.num_workers, total)
    if measured is not None and measured[1] < COW_MIN_BYTES:
        return []
    return [_memory_finding(s, containers, total, measured)]


def _growth_per_worker(
    run: _Run, n_items: int, workers: int, total: int
) -> tuple[int, int, int] | None:
    """(measured growth, extrapolated growth per epoch, items touched) of the worst worker."""
    best: tuple[int, int, int] | None = None
    rows = {w: r for w, _fp, r in run.items}
    for worker, first in run.uss_first.items():
        touched = (run.batches_by_worker.get(worker, 1) - 1) * rows.get(worker, 1)
        grown = run.uss_last.get(worker, first) - first
        if touched <= 0:
            continue
        epoch = min(total, int(max(grown, 0) / touched * (n_items / workers)))
        if best is None or epoch > best[1]:
            best = (grown, epoch, touched)
    return best


def _memory_finding(
    s: TorchSettings,
    containers: Sequence[BigContainer],
    total: int,
    measured: tuple[int, int, int] | None,
) -> Finding:
    big = containers[0]
    if measured is not None:
        grown, epoch, touched = measured
        what = (
            f"measured in the dry run: +{mib(grown)} of private memory in a worker after "
            f"{touched:,} items, about {mib(epoch)} per worker over an epoch, "
            f"{mib(epoch * s.num_workers)} for the {s.num_workers} workers"
        )
    else:
        what = f"estimated (not measurable here): up to {mib(total)} per worker over an epoch"
    return make_finding(
        "TSG723",
        path=big.path,
        message=(
            f"{big.path} is a {big.kind} with {big.items:,} items (about {mib(big.object_bytes)} "
            "of Python objects). Forked DataLoader workers share these pages only until they "
            "read them: every read updates an object's reference count, which copies its page "
            f"into the worker ({what}). Memory grows with each worker and epoch, the "
            "long-standing PyTorch 'memory leak' with many workers"
        ),
        severity=Severity.WARNING if measured is not None else Severity.INFO,
        details={
            "containers": [dataclasses.asdict(c) for c in containers],
            "object_bytes": total,
            "measured_growth_bytes": measured[0] if measured else None,
            "epoch_growth_per_worker_bytes": measured[1] if measured else None,
            "items_touched": measured[2] if measured else None,
            "num_workers": s.num_workers,
        },
    )


# --- handles -----------------------------------------------------------------------------------------


def probe_inspection(ctx: ProbeContext) -> list[Finding]:
    """TSG201: connections, sockets and open files on the dataset, shared by forked workers."""
    s = torch_settings(ctx.loader)
    found = walk(ctx.loader.dataset, "dataset")
    forked = s.num_workers > 0 and s.start_method == "fork"
    findings = []
    for path, obj in found.handles:
        findings.append(
            shared_finding(
                "TSG201",
                path=path,
                severity=error_if(forked),
                message=(
                    f"{path} ({type_name(obj)}) was opened in this process, before the "
                    f"workers start. Forked DataLoader workers (num_workers={s.num_workers}, "
                    f"{s.start_method!r}) inherit it and share one file offset, stream or "
                    "database session, which gives wrong rows, interleaved reads or protocol "
                    "errors (h5py and SQLite fail in the workers); spawned workers cannot "
                    "receive it at all"
                ),
                hint=(
                    "Open it in each worker: a class attribute "
                    "`threadsafe_gen.per_process(factory)`, or open it on first use in "
                    "__getitem__ (or in worker_init_fn) instead of __init__."
                ),
                details={"type": type_name(obj)},
            )
        )
    return findings


# --- randomness --------------------------------------------------------------------------------------


def _first_index(dl: Any) -> Any:
    try:
        return next(iter(dl.sampler))
    except Exception:
        return 0


def probe_randomness(ctx: ProbeContext) -> list[Finding]:
    """TSG501/TSG502: the same index drawn twice by every worker, in two epochs.

    A worker that gives two different samples for one index is random; identical samples
    across workers (or across two epochs) then mean its randomness repeats.
    """
    exit_if_bootstrapping()
    s = torch_settings(ctx.loader)
    if s.iterable or s.num_workers < 1 or (ctx.state.unpicklable and s.start_method != "fork"):
        return []
    index = _first_index(ctx.loader)
    n = s.num_workers
    epochs = []
    for _epoch in range(2):
        if ctx.remaining() <= ctx.batch_timeout:
            ctx.state.note("torch_randomness: skipped, not enough time left")
            return []
        run = _run(ctx, 2 * n, batch_sampler=[[index]] * (2 * n))
        if run.error is not None or run.timed_out or len(run.items) < 2 * n:
            return []
        per: dict[int, list[str]] = {}
        for worker, fp, _rows in run.items:
            per.setdefault(worker, []).append(fp)
        epochs.append(per)
    first, second = epochs
    if not any(len(set(fps)) > 1 for fps in first.values()):
        return []  # the same index gives the same sample: not random
    return _random_findings(ctx, s, index, first, second)


def _random_findings(
    ctx: ProbeContext,
    s: TorchSettings,
    index: Any,
    first: dict[int, list[str]],
    second: dict[int, list[str]],
) -> list[Finding]:
    path = "worker_init_fn" if s.worker_init_fn is not None else "dataset"
    cause = (
        "the worker_init_fn resets the seed torch gave each worker"
        if s.worker_init_fn is not None
        else "the dataset draws from an RNG it carries (copied into every worker with its state)"
    )
    findings: list[Finding] = []
    workers = sorted(first)
    same_workers = len(workers) > 1 and len({first[w][0] for w in workers}) == 1
    if same_workers:
        findings.append(
            shared_finding(
                "TSG501",
                path=path,
                message=(
                    f"dataset[{index!r}] gave two different samples in one worker but the "
                    f"same ones in all {len(workers)} DataLoader workers: {cause}, so the "
                    "workers replay the same augmentations"
                ),
                hint=(
                    "Let torch seed the workers (drop the constant seed), or seed from the "
                    "worker: np.random.seed(torch.utils.data.get_worker_info().seed % 2**32); "
                    "in __getitem__, threadsafe_gen.rng_for(index, epoch=epoch)."
                ),
                details={"index": index, "workers": workers},
            )
        )
    if all(first[w][0] == second.get(w, [None])[0] for w in workers):
        findings.append(
            shared_finding(
                "TSG502",
                path=path,
                message=(
                    f"dataset[{index!r}] gave the same 'random' samples in two epochs (two "
                    f"iterations of the DataLoader): {cause}, so every epoch repeats the "
                    "previous one's augmentations"
                ),
                hint=(
                    "Seed from torch's per-worker seed, which changes every epoch "
                    "(torch.utils.data.get_worker_info().seed), or key the randomness on the "
                    "epoch: threadsafe_gen.rng_for(index, epoch=epoch)."
                ),
                details={"index": index, "workers": workers},
            )
        )
    return findings


# --- the probes --------------------------------------------------------------------------------------

PROBES: tuple[Probe, ...] = (
    Probe("pickling", probe_pickling, records=("unpicklable",)),
    Probe("torch_dry_run", probe_dry_run, reads=("unpicklable",), records=("fork_clean",)),
    Probe("process_inspection", probe_inspection, reads=("fork_clean",)),
    Probe("torch_randomness", probe_randomness, reads=("unpicklable",)),
)

#: The names check_loader(probes=[...]) accepts for torch loaders.
PROBE_NAMES: tuple[str, ...] = tuple(p.name for p in PROBES)


def select_probes(wanted: Sequence[Any] | None) -> list[Probe]:
    """The probes to run for a torch loader: all, or those named (custom functions last)."""
    return select(PROBES, wanted)
