"""In-process probes: run the loader sequentially, in another order and from several threads.

The probes run in this order (``PROBES``), each reading what the earlier ones stored in
``ctx.shared``:

``sequential``  a forked canary first (where fork exists), then one pass over the indices on a
                helper thread with a per-call timeout; TSG822, TSG601, TSG305, TSG801, TSG821.
``structure``   Keras' batch rules over that pass; TSG602, TSG621-624, TSG603.
``state``       attributes changed by the pass, earlier results changed by later calls;
                TSG303, TSG304.
``resources``   descriptors and threads after each call of the pass; TSG721, TSG722.
``order``       the same indices again, in reverse; a result that depends on the call order
                (TSG301), or a loader that is random by design (then exact comparisons stop).
``threads``     with workers>1 threads: concurrent passes from N threads started on a
                Barrier with ``sys.setswitchinterval(1e-6)``; TSG301, TSG302, TSG304, TSG306,
                TSG701 (a lock that serialises the calls). For a generator function, also N
                separate iterators pulled from in turn: TSG301 when they share a cursor.
``duplicates``  sample-row fingerprints over one pass with the planned workers; TSG401.

What these probes leave in ``ctx.shared`` for later probes (the process probes read some):

``"sequential"``        :class:`PassRecord` of the sequential pass (fingerprints per index).
``"inprocess_unsafe"``  why the loader must not be called in this process any more (a call
                        hung or killed the canary); absent when it is safe.
``"canary"``            how the forked canary ended (``"done"``, ``"timeout at index 3"``, ...).
``"random"``            True when repeated calls return fresh data by design (augmentation):
                        exact comparisons are skipped, only structure and exceptions count.
``"order_dependent"``   indices whose result depends on earlier calls (a cursor), if any.
``"results_changed"``   indices whose earlier result a later call changed (a reused buffer).
``"threads"``           the first concurrent run (calls, results) when threads are planned.
``"thread_speedup"``    measured speed-up of n threads over one, for the report.

NOTE [ In-process crash and hang safety ]
A loader may call ``os._exit``, crash in native code, or never return. Before any in-process
call, the sequential indices run in a forked child (the "canary", only where fork exists):
if the child dies, the index and exit code or signal become a TSG821 finding and no
in-process probe runs. Every in-process call then runs on a daemon helper thread and is
waited for with ``min(batch_timeout, ctx.remaining())``: a call that does not return becomes
a TSG801 finding, ``ctx.shared["inprocess_unsafe"]`` is set, and no later probe calls the
loader in this process again (the stuck daemon thread is abandoned; Python cannot kill a
thread, and a daemon thread does not block interpreter exit). Without fork (Windows), a
crash in the loader ends the calling process: there is nothing safer to run it in.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import math
import multiprocessing
import multiprocessing.connection
import os
import queue
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._findings import Finding, Severity, make_finding
from . import ProbeContext
from ._batches import BatchInfo, InvalidBatchError, batch_info

__all__ = [
    "PROBES",
    "CallRecord",
    "PassRecord",
    "probe_duplicates",
    "probe_order",
    "probe_resources",
    "probe_sequential",
    "probe_state",
    "probe_structure",
    "probe_threads",
]

#: Threads used by the concurrency probe: the planned workers, at least 2, at most this.
MAX_PROBE_THREADS = 8

#: Batches are kept (to see whether a later call changes an earlier result, TSG304) until
#: they add up to this many bytes; a shared buffer shows up in the first few anyway.
KEEP_RESULTS_BYTES = 256 * 2**20


# --- records ---------------------------------------------------------------------------------


@dataclasses.dataclass
class CallRecord:
    """One call of the loader: ``loader[index]`` or the index-th ``next()`` of a generator."""

    index: int
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    info: BatchInfo | None = None
    invalid: str | None = None  # why Keras would reject the batch
    error_type: str | None = None
    error: str | None = None  # "ValueError: boom"
    traceback: str = ""
    thread: str = ""
    started: float = 0.0
    ended: float = 0.0

    @property
    def ok(self) -> bool:
        """The call returned (a valid or invalid batch)."""
        return self.error is None


@dataclasses.dataclass
class PassRecord:
    """One pass over the loader."""

    calls: list[CallRecord] = dataclasses.field(default_factory=list)
    exhausted_after: int | None = None  # generators: StopIteration after this many items
    fds: list[int] = dataclasses.field(default_factory=list)
    threads: list[int] = dataclasses.field(default_factory=list)
    results: dict[int, Any] = dataclasses.field(default_factory=dict)  # kept for TSG304
    kept_bytes: int = 0
    wall: float = 0.0

    def by_index(self) -> dict[int, CallRecord]:
        """The calls by index (the last call of an index wins)."""
        return {c.index: c for c in self.calls}


# --- calling the loader with a timeout -----------------------------------------------------------


class _Outcome:
    __slots__ = ("cpu", "done", "error", "seconds", "tb", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.tb = ""
        self.seconds = 0.0
        self.cpu = 0.0


class _Caller:
    """A daemon thread that runs one call at a time; the caller waits with a timeout.

    One thread for a whole pass keeps the thread count flat (the resources probe counts
    threads), and a daemon thread stuck in a hanging call never blocks interpreter exit.
    """

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[Callable[[], Any], _Outcome] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="threadsafe_gen-check", daemon=True)
        self._thread.start()
        self.stuck = False

    def _run(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                return
            fn, out = item
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                out.value = fn()
            except BaseException as exc:  # SystemExit from user code is a finding too
                out.error = exc
                out.tb = traceback.format_exc()
            out.seconds = time.perf_counter() - t0
            out.cpu = time.thread_time() - c0
            out.done.set()

    def call(self, fn: Callable[[], Any], timeout: float) -> _Outcome | None:
        """Run *fn* on the helper thread; None if it did not return within *timeout*."""
        out = _Outcome()
        self._requests.put((fn, out))
        if not out.done.wait(max(timeout, 0.0)):
            self.stuck = True
            return None
        return out

    def close(self) -> None:
        """End the helper thread; wait for it unless it is stuck in a call that timed out.

        Waiting matters: a helper thread still alive when the process probes look for live
        threads (locks held at fork) would be reported as the user's.
        """
        self._requests.put(None)
        if not self.stuck:
            self._thread.join(timeout=1.0)


def _fd_count() -> int:
    for where in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(where))
        except OSError:
            continue
    return -1


def _record(index: int, out: _Outcome, *, keep: PassRecord | None = None) -> CallRecord:
    rec = CallRecord(index=index, seconds=out.seconds, cpu_seconds=out.cpu)
    if out.error is not None:
        rec.error_type = type(out.error).__name__
        rec.error = f"{type(out.error).__name__}: {out.error}"
        rec.traceback = out.tb
        return rec
    try:
        rec.info = batch_info(out.value)
    except InvalidBatchError as exc:
        rec.invalid = str(exc)
    if keep is not None and keep.kept_bytes < KEEP_RESULTS_BYTES:
        keep.results[index] = out.value
        keep.kept_bytes += _nbytes(out.value)
    return rec


def _nbytes(batch: Any) -> int:
    return sum(a.nbytes for a in _leaf_arrays(batch))


def _unsafe(ctx: ProbeContext) -> str | None:
    reason = ctx.shared.get("inprocess_unsafe")
    return str(reason) if reason else None


def _call_timeout(ctx: ProbeContext) -> float:
    return min(ctx.batch_timeout, ctx.remaining())


def _hang_finding(ctx: ProbeContext, index: int | list[int], where: str) -> list[Finding]:
    """TSG801 for a call that did not return, or nothing if the budget, not the call, ran out."""
    indices = index if isinstance(index, list) else [index]
    paths = ", ".join(_path_fn(ctx)(i) for i in indices) or "a call"
    if ctx.remaining() <= 0.05:
        # The wait was cut by the overall budget, not by batch_timeout: not evidence of a hang.
        ctx.shared["cut_short"] = f"{where} stopped at {paths} when the time budget ran out"
        ctx.shared["inprocess_unsafe"] = "the time budget ran out while a call was running"
        return []
    ctx.shared["inprocess_unsafe"] = f"{paths} did not return ({where})"
    return [
        make_finding(
            "TSG801",
            path=_path_fn(ctx)(indices[0]) if indices else "loader",
            message=(
                f"{paths} did not return within {ctx.batch_timeout:.1f} s ({where}); Keras has "
                "no per-batch timeout, so fit() would hang here forever. Later in-process "
                "probes were skipped"
            ),
            details={"indices": indices, "batch_timeout": ctx.batch_timeout},
        )
    ]


def _is_random(ctx: ProbeContext) -> bool:
    return bool(ctx.shared.get("random"))


def _set_switchinterval(value: float) -> float:
    old = sys.getswitchinterval()
    sys.setswitchinterval(value)
    return old


# --- the forked canary ---------------------------------------------------------------------------


def _canary_main(conn: Any, ctx: ProbeContext) -> None:
    """Child side of the canary: call every index, announcing each one before the call."""
    try:
        if ctx.kind == "sequence":
            for i in ctx.indices:
                conn.send(("start", i))
                try:
                    ctx.loader[i]
                except BaseException:
                    pass  # exceptions are the sequential pass's business; only death counts here
        else:
            it = ctx.make_iterator() if ctx.make_iterator is not None else iter(ctx.loader)
            for i in range(ctx.max_batches):
                conn.send(("start", i))
                try:
                    next(it)
                except BaseException:
                    break
        conn.send(("done", -1))
    finally:
        conn.close()


def _run_canary(ctx: ProbeContext) -> Finding | None:
    """Run the sequential calls in a forked child; a TSG821 finding if the child died."""
    if "fork" not in multiprocessing.get_all_start_methods() or sys.platform == "darwin":
        # macOS has fork, but system libraries may crash a forked child for reasons that have
        # nothing to do with the loader (which is why spawn is its default).
        ctx.shared["canary"] = "skipped: no safe fork on this platform"
        return None
    mp = multiprocessing.get_context("fork")
    parent_conn, child_conn = mp.Pipe(duplex=False)
    proc = mp.Process(target=_canary_main, args=(child_conn, ctx), daemon=True)
    with warnings.catch_warnings():
        # Python >= 3.12 warns on fork of a multi-threaded process; the child only calls the
        # loader and exits, which is what Keras' forked workers do too.
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    child_conn.close()
    # The canary may use at most a quarter of what is left: it protects, it does not measure.
    budget_end = time.monotonic() + ctx.remaining() / 4
    current: int | None = None
    started = completed = 0  # calls the child announced / finished
    call_end = time.monotonic() + ctx.batch_timeout
    status = "unfinished"
    try:
        while True:
            now = time.monotonic()
            wait = min(call_end, budget_end) - now
            if wait <= 0:
                status = "timeout" if now >= call_end else "budget"
                break
            ready = multiprocessing.connection.wait([parent_conn, proc.sentinel], timeout=wait)
            if parent_conn in ready:
                try:
                    kind, index = parent_conn.recv()
                except EOFError:
                    proc.join(1.0)
                    status = "died"
                    break
                if kind == "done":
                    status = "done"
                    completed = started
                    break
                completed, started = started, started + 1
                current = index
                call_end = time.monotonic() + ctx.batch_timeout
            elif ready:
                proc.join(1.0)
                status = "died"
                break
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5.0)
        parent_conn.close()
    ctx.shared["canary"] = f"{status} at index {current}" if status != "done" else "done"
    ctx.shared["canary_completed"] = completed
    if status == "died" and proc.exitcode is not None:
        # Exit code 0 counts too: a loader that ends its process cleanly still ends it.
        code = proc.exitcode
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        ctx.shared["inprocess_unsafe"] = f"the process died at index {current} ({how})"
        path = _path_fn(ctx)(current if current is not None else 0)
        return make_finding(
            "TSG821",
            path=path,
            message=(
                f"the process calling {path} died with {how} (os._exit, sys.exit in native "
                "code, a segfault or the OOM killer). The check ran it in a forked child, so "
                "this process survived; a Keras worker would die the same way and fit() would "
                "wait for its batch forever. In-process probes were skipped"
            ),
            details={"index": current, "exitcode": code},
        )
    return None


# --- sequential pass -----------------------------------------------------------------------------


def _sequential_pass(
    ctx: ProbeContext, caller: _Caller, *, limit: int | None = None
) -> tuple[PassRecord, list[Finding] | None]:
    rec = PassRecord()
    t0 = time.perf_counter()
    rec.fds.append(_fd_count())
    rec.threads.append(threading.active_count())
    if ctx.kind == "sequence":
        steps: Iterator[tuple[int, Callable[[], Any]]] = (
            (i, functools.partial(_getitem, ctx.loader, i)) for i in ctx.indices
        )
    else:
        it_box: list[Iterator[Any]] = []

        def make() -> Iterator[Any]:
            return ctx.make_iterator() if ctx.make_iterator is not None else iter(ctx.loader)

        out = caller.call(make, _call_timeout(ctx))
        if out is None:
            return rec, _hang_finding(ctx, 0, "creating the iterator")
        if out.error is not None:
            r = CallRecord(index=0, error_type=type(out.error).__name__, traceback=out.tb)
            r.error = f"{type(out.error).__name__}: {out.error}"
            rec.calls.append(r)
            return rec, None
        it_box.append(out.value)
        n = ctx.max_batches if limit is None else limit
        steps = ((i, (lambda: next(it_box[0]))) for i in range(n))
    for index, fn in steps:
        if ctx.remaining() <= 0:
            break
        out = caller.call(fn, _call_timeout(ctx))
        if out is None:
            return rec, _hang_finding(ctx, index, "sequential pass")
        if isinstance(out.error, StopIteration) and ctx.kind == "generator":
            rec.exhausted_after = index
            break
        rec.calls.append(_record(index, out, keep=rec))
        rec.fds.append(_fd_count())
        rec.threads.append(threading.active_count())
    rec.wall = time.perf_counter() - t0
    return rec, None


def probe_sequential(ctx: ProbeContext) -> list[Finding]:
    """One pass over the loader (after a forked canary): exceptions, IndexError, hangs."""
    findings: list[Finding] = []
    canary = _run_canary(ctx)
    if canary is not None:
        return [canary]
    ctx.shared["state_before"] = _snapshot(ctx.loader) if ctx.kind == "sequence" else {}
    if ctx.kind == "sequence":
        _keras_peek(ctx)
    ctx.shared["state_after_first"] = _snapshot(ctx.loader) if ctx.kind == "sequence" else {}
    caller = _Caller()
    try:
        # A one-shot iterator has one stream: take only a few items here (structure), and
        # leave the rest to the threads probe, which matters more with worker threads.
        limit = None
        if ctx.kind == "generator" and ctx.make_iterator is None and _threads_planned(ctx):
            limit = max(1, min(4, ctx.max_batches // 2))
        rec, hang = _sequential_pass(ctx, caller, limit=limit)
        ctx.shared["sequential"] = rec
        if hang is not None:
            findings += hang
            return findings
        findings += _error_findings(ctx, rec)
        if ctx.kind == "sequence":
            findings += _past_end(ctx, caller)
        if "len_error" in ctx.shared:
            findings.append(
                make_finding(
                    "TSG822",
                    path="len(loader)",
                    message=(
                        f"len(loader) raised {_cut(ctx.shared['len_error'])}; Keras calls it "
                        f"before the first batch, so fit() stops there. The check probed "
                        f"indices 0-{ctx.max_batches - 1} instead"
                    ),
                    details={"error": ctx.shared["len_error"]},
                )
            )
    finally:
        caller.close()
    return findings


def _affordable(ctx: ProbeContext, calls: list[CallRecord], *, passes: int) -> list[CallRecord]:
    """The calls a later pass can repeat when *passes* such passes share what is left.

    A slow loader (say 100 ms per batch) would spend the whole budget repeating 64 batches;
    an evenly spread subset (the first and last call included) keeps every probe running.
    """
    ok = [c for c in calls if c.ok]
    if not ok:
        return calls
    per_call = max(sorted(c.seconds for c in ok)[len(ok) // 2], 1e-6)
    k = int(ctx.remaining() / passes / per_call)
    if k >= len(calls):
        return calls
    k = max(k, 4)
    step = (len(calls) - 1) / (k - 1)
    picked = sorted({round(i * step) for i in range(k)})
    return [calls[i] for i in picked]


def _keras_peek(ctx: ProbeContext) -> None:
    """Call loader[0] and loader[1] on this thread first, as Keras does to infer the output spec.

    Keras 3 runs these two calls on the thread that called fit() and every later call on a
    tf.data or worker thread (docs/failure-modes.md row 1.7 and 8.4), so a resource opened lazily by the
    first call is then used from another thread. Mirroring that order lets the sequential
    pass, which runs on a helper thread, meet the same failure. The calls are made only when
    the forked canary has shown that they return (there is no timeout on this thread).
    """
    peek = [i for i in ctx.indices[:2] if i in (0, 1)]
    if ctx.shared.get("canary_completed", 0) < len(peek):
        return  # no canary, or it did not get past the peeked indices
    for i in peek:
        try:
            ctx.loader[i]
        except KeyboardInterrupt:
            raise
        except BaseException:  # SystemExit from a loader is a finding, not our exit
            return  # the sequential pass reports it, with its traceback


def _threads_planned(ctx: ProbeContext) -> bool:
    return ctx.workers > 1 and not ctx.use_multiprocessing


def _error_findings(ctx: ProbeContext, rec: PassRecord) -> list[Finding]:
    """TSG822 / TSG601 (IndexError inside the range) / TSG305 from the sequential pass."""
    failed = [c for c in rec.calls if not c.ok]
    if not failed:
        return []
    findings: list[Finding] = []
    groups: dict[tuple[str, str], list[CallRecord]] = collections.defaultdict(list)
    for c in failed:
        first_line = (c.error or "").splitlines()[0] if c.error else ""
        groups[(c.error_type or "", _strip_numbers(first_line))].append(c)
    for (etype, _), calls in groups.items():
        first = calls[0]
        idx = [c.index for c in calls]
        path = _path_fn(ctx)(first.index)
        also = f" (and {len(idx) - 1} more: {_some(idx[1:])})" if len(idx) > 1 else ""
        details = {"indices": idx, "error": first.error, "traceback": first.traceback}
        if _thread_bound(ctx, first.index):
            findings.append(
                make_finding(
                    "TSG305",
                    path=path,
                    message=(
                        f"{path} raised {_cut(first.error)} when called from another "
                        f"thread{also}, and worked on the thread that created the loader. Keras "
                        "calls __getitem__ from a tf.data or worker thread even with workers=1"
                    ),
                    details=details,
                )
            )
        elif ctx.kind == "sequence" and etype == "IndexError":
            findings.append(
                make_finding(
                    "TSG601",
                    path=path,
                    message=(
                        f"{path} raised {_cut(first.error)}{also}, but len(loader) is "
                        f"{_len(ctx.loader)}: Keras asks for every index below len(), so "
                        "training stops there"
                    ),
                    details=details,
                )
            )
        else:
            findings.append(
                make_finding(
                    "TSG822",
                    path=path,
                    message=f"{path} raised {_cut(first.error)}{also}",
                    details=details,
                )
            )
    return findings


def _thread_bound(ctx: ProbeContext, index: int) -> bool:
    """Does loader[index], which failed on the helper thread, work on this thread?"""
    if threading.get_ident() != ctx.shared.get("creator_thread", threading.get_ident()):
        return False
    try:
        # It raised promptly on the helper thread and passed the canary, so calling it here
        # is as safe as a call can be. (KeyboardInterrupt is the user's, so it propagates.)
        if ctx.kind == "sequence":
            ctx.loader[index]
        elif ctx.make_iterator is not None:
            it = ctx.make_iterator()
            for _ in range(index + 1):
                next(it)
        else:
            return False  # a one-shot iterator cannot be replayed
    except KeyboardInterrupt:
        raise
    except BaseException:
        return False
    return True


def _past_end(ctx: ProbeContext, caller: _Caller) -> list[Finding]:
    """TSG601: loader[len(loader)] returns a non-empty batch that Keras never asks for."""
    n = _len(ctx.loader)
    if n is None:
        return []
    if n == 0:
        return [
            make_finding(
                "TSG601",
                path="loader",
                message="len(loader) is 0: Keras asks for no batch and trains on nothing",
                severity=Severity.WARNING,
                details={"len": 0},
            )
        ]
    out = caller.call(lambda: ctx.loader[n], _call_timeout(ctx))
    if out is None:
        ctx.shared["inprocess_unsafe"] = f"loader[{n}] (past the end) did not return"
        return []
    if out.error is not None:
        return []
    try:
        info = batch_info(out.value)
    except InvalidBatchError:
        return []
    if info.empty:
        return []
    rec: PassRecord | None = ctx.shared.get("sequential")
    seen = {r for c in (rec.calls if rec else []) if c.info is not None for r in c.info.rows}
    if info.rows and all(r in seen for r in info.rows):
        return []  # it wraps around (modulo indexing or a cursor): nothing is left out
    sizes = sorted(c.info.n_rows or 0 for c in (rec.calls if rec else []) if c.info is not None)
    full = sizes[len(sizes) // 2] if sizes else 0
    partial = 0 < (info.n_rows or 0) < full
    if partial:
        # The classic floor-instead-of-ceil: the last, smaller batch is never trained on.
        message = (
            f"len(loader) is {n} but loader[{n}] still returns a partial batch of "
            f"{info.n_rows} samples (batches hold {full}): __len__ rounds down, so the last "
            f"{info.n_rows} samples are never trained on"
        )
    else:
        message = (
            f"len(loader) is {n} but loader[{n}] returns a batch of {info.n_rows} samples; "
            "Keras asks for indices below len() only. If __getitem__ computes batches for any "
            "index this is harmless; if it reads real samples, these are never trained on"
        )
    return [
        make_finding(
            "TSG601",
            path=f"loader[{n}]",
            message=message,
            severity=Severity.WARNING if partial else Severity.INFO,
            details={"len": n, "rows_past_end": info.n_rows, "batch_rows": full},
        )
    ]


def _getitem(loader: Any, index: int) -> Any:
    return loader[index]


def _path_fn(ctx: ProbeContext) -> Callable[[int], str]:
    if ctx.kind == "sequence":
        return lambda i: f"loader[{i}]"
    return lambda i: f"next(loader) #{i}"


def _len(loader: Any) -> int | None:
    try:
        return len(loader)
    except Exception:
        nb = getattr(loader, "num_batches", None)
        return nb if isinstance(nb, int) else None


def _strip_numbers(text: str) -> str:
    return "".join("#" if ch.isdigit() else ch for ch in text)


def _cut(text: str | None, limit: int = 200) -> str:
    """*text* on one line, cut to *limit* characters (exception messages can be huge)."""
    one = " ".join((text or "").split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def _some(values: list[int], k: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:k])
    return shown + (", ..." if len(values) > k else "")


# --- structure -----------------------------------------------------------------------------------


def probe_structure(ctx: ProbeContext) -> list[Finding]:
    """Keras' batch rules over the sequential pass: empty, invalid, changing batches; finite generators."""
    rec: PassRecord | None = ctx.shared.get("sequential")
    if rec is None:
        return []
    findings: list[Finding] = []
    path_of = _path_fn(ctx)
    invalid = [c for c in rec.calls if c.invalid is not None]
    if invalid:
        idx = [c.index for c in invalid]
        findings.append(
            make_finding(
                "TSG624",
                path=path_of(idx[0]),
                message=f"{path_of(idx[0])}: {invalid[0].invalid} ({len(idx)} batches: {_some(idx)})",
                details={"indices": idx, "reason": invalid[0].invalid},
            )
        )
    valid = [c for c in rec.calls if c.info is not None]
    empty = [c.index for c in valid if c.info is not None and c.info.empty]
    if empty:
        findings.append(
            make_finding(
                "TSG602",
                path=path_of(empty[0]),
                message=f"{len(empty)} of {len(valid)} batches probed are empty ({_some(empty)})",
                details={"indices": empty},
            )
        )
    if valid:
        findings += _changes(valid, path_of)
    if ctx.kind == "generator" and rec.exhausted_after == 0:
        findings.append(
            make_finding(
                "TSG603",
                path="loader",
                message=(
                    "the iterator yielded no batch at all: an exhausted generator object (one "
                    "that was already consumed, by a previous fit() or check) trains on nothing"
                ),
                hint=(
                    "Pass a fresh generator, or better the generator function, which can be "
                    "called again (threadsafe_gen.keras.GeneratorDataset does that each epoch)."
                ),
                details={"batches": 0},
            )
        )
    elif ctx.kind == "generator" and rec.exhausted_after is not None:
        n = rec.exhausted_after
        is_func = ctx.make_iterator is not None and not hasattr(ctx.loader, "__next__")
        findings.append(
            make_finding(
                "TSG603",
                path="loader",
                message=(
                    f"the generator stopped after {n} batches. Keras 3 fit() without "
                    "steps_per_epoch replays only its 2 peeked batches in every later epoch, and "
                    "tf_keras stops with 'ran out of data'"
                    + (
                        "; pass this generator function (not one generator object) to an "
                        "adapter that calls it again each epoch"
                        if is_func
                        else ""
                    )
                ),
                details={"batches": n},
            )
        )
    return findings


def _changes(valid: list[CallRecord], path_of: Callable[[int], str]) -> list[Finding]:
    ref = valid[0]
    assert ref.info is not None
    struct_bad: list[int] = []
    dtype_bad: list[tuple[int, str]] = []
    shape_bad: list[tuple[int, str]] = []
    for c in valid[1:]:
        info = c.info
        assert info is not None
        if info.structure != ref.info.structure or len(info.leaves) != len(ref.info.leaves):
            struct_bad.append(c.index)
            continue
        for (path, dt, shape, ndim), (_, rdt, rshape, rndim) in zip(
            info.leaves, ref.info.leaves, strict=True
        ):
            if dt != rdt:
                dtype_bad.append((c.index, f"{path}: {rdt} in {path_of(ref.index)}, {dt} here"))
            if ndim != rndim or shape != rshape:
                shape_bad.append(
                    (
                        c.index,
                        f"{path}: rank {rndim}, feature shape {rshape} in {path_of(ref.index)}; "
                        f"rank {ndim}, feature shape {shape} here",
                    )
                )
    out: list[Finding] = []
    if struct_bad:
        i = struct_bad[0]
        other = next(c for c in valid if c.index == i).info
        assert other is not None
        out.append(
            make_finding(
                "TSG621",
                path=path_of(i),
                message=(
                    f"{path_of(i)} has structure {_cut(other.structure, 120)}, but "
                    f"{path_of(ref.index)} has {_cut(ref.info.structure, 120)} "
                    f"({len(struct_bad)} batches differ: {_some(struct_bad)})"
                ),
                details={"indices": struct_bad},
            )
        )
    for code, bad in (("TSG622", dtype_bad), ("TSG623", shape_bad)):
        if bad:
            idx = sorted({i for i, _ in bad})
            out.append(
                make_finding(
                    code,
                    path=path_of(bad[0][0]),
                    message=f"{path_of(bad[0][0])} {bad[0][1]} ({len(idx)} batches differ: {_some(idx)})",
                    details={"indices": idx},
                )
            )
    return out


# --- state: mutated attributes and results changed later ---------------------------------------------


_SMALL = (type(None), bool, int, float, complex, str, bytes)


def _value_fingerprint(value: Any) -> Any:
    """A cheap, comparable summary of an attribute value (identity plus content where cheap)."""
    if isinstance(value, _SMALL):
        return (
            type(value).__name__,
            value if not isinstance(value, (str, bytes)) or len(value) < 4096 else hash(value),
        )
    if isinstance(value, np.ndarray):
        if value.nbytes <= 1 << 20:
            return (
                "ndarray",
                id(value),
                value.shape,
                str(value.dtype),
                value.tobytes() if not value.dtype.hasobject else id(value),
            )
        flat = value.reshape(-1)
        sample = flat[:: max(1, flat.size // 4096)]
        return (
            "ndarray",
            id(value),
            value.shape,
            str(value.dtype),
            sample.tobytes() if not value.dtype.hasobject else 0,
        )
    if isinstance(value, (list, tuple, dict, set)):
        try:
            size = len(value)
        except Exception:
            size = -1
        return (type(value).__name__, id(value), size)
    return (type(value).__name__, id(value))


def _snapshot(loader: Any) -> dict[str, Any]:
    try:
        attrs = dict(vars(loader))
    except TypeError:
        attrs = {}
    for name in getattr(type(loader), "__slots__", ()) or ():
        if isinstance(name, str) and hasattr(loader, name):
            attrs[name] = getattr(loader, name)
    return {
        k: (_value_fingerprint(v), v is None)
        for k, v in attrs.items()
        # threadsafe_gen.per_process/per_thread keep their per-instance slot here: by design.
        if not type(v).__module__.startswith("threadsafe_gen")
    }


def probe_state(ctx: ProbeContext) -> list[Finding]:
    """TSG303 (attributes changed by __getitem__) and TSG304 (an earlier result changed later)."""
    rec: PassRecord | None = ctx.shared.get("sequential")
    if rec is None or ctx.kind != "sequence":
        return []
    findings: list[Finding] = []
    before: dict[str, Any] = ctx.shared.pop("state_before", {})
    first: dict[str, Any] = ctx.shared.pop("state_after_first", before)
    after = _snapshot(ctx.loader)

    def diff(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
        return {k for k in a.keys() | b.keys() if a.get(k, (None,))[0] != b.get(k, (None,))[0]}

    # Set by the first calls and stable afterwards: lazy initialisation. Still changing
    # during the pass: state kept on the loader.
    eager = sorted(diff(first, after))
    changed = sorted(diff(before, after) | set(eager))
    if changed:
        names = ", ".join(f"loader.{k}" for k in changed[:6]) + (
            ", ..." if len(changed) > 6 else ""
        )
        if eager:
            findings.append(
                make_finding(
                    "TSG303",
                    path=f"loader.{eager[0]}",
                    message=(
                        f"a pass over {len(rec.calls)} batches changed {names}: __getitem__ keeps "
                        "state on the loader, which worker threads share and worker processes do not"
                    ),
                    details={"attributes": changed},
                )
            )
        else:
            findings.append(
                make_finding(
                    "TSG303",
                    path=f"loader.{changed[0]}",
                    message=(
                        f"the first calls of __getitem__ set {names}, which then stayed the same "
                        "(lazy initialisation): two worker threads may both initialise it, and a "
                        "handle opened by Keras' first calls in the parent is inherited by forked "
                        "workers unless it is keyed on the process (threadsafe_gen.per_process)"
                    ),
                    severity=Severity.INFO,
                    details={"attributes": changed},
                )
            )
    findings += _results_changed(ctx, rec, "the sequential pass")
    rec.results.clear()  # release the batches
    return findings


def _results_changed(ctx: ProbeContext, rec: PassRecord, where: str) -> list[Finding]:
    changed: list[int] = []
    for c in rec.calls:
        if c.info is None or c.index not in rec.results:
            continue
        try:
            now = batch_info(rec.results[c.index]).fingerprint
        except InvalidBatchError:
            continue
        if now != c.info.fingerprint:
            changed.append(c.index)
    if not changed:
        return []
    ctx.shared["results_changed"] = changed
    shared_with = _sharing_pairs(rec, changed[:4])
    path = f"loader[{changed[0]}]"
    pairs = "; ".join(f"loader[{a}] and loader[{b}]" for a, b in shared_with[:3])
    return [
        make_finding(
            "TSG304",
            path=path,
            message=(
                f"in {where}, {len(changed)} of {len(rec.calls)} batches changed after later "
                f"calls returned ({_some(changed)})"
                + (f"; they share memory ({pairs})" if pairs else "")
                + ". A queue of prefetched batches then holds the same buffer several times, and "
                "training sees duplicates"
            ),
            details={"indices": changed, "sharing": shared_with},
        )
    ]


def _leaf_arrays(batch: Any) -> list[np.ndarray[Any, Any]]:
    out: list[np.ndarray[Any, Any]] = []

    def visit(v: Any) -> None:
        if isinstance(v, np.ndarray):
            out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                visit(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                visit(x)

    visit(batch)
    return out


def _sharing_pairs(rec: PassRecord, indices: list[int]) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for a in indices:
        for b, other in rec.results.items():
            if b == a:
                continue
            if any(
                np.may_share_memory(x, y)
                for x in _leaf_arrays(rec.results[a])
                for y in _leaf_arrays(other)
            ):
                pairs.append((a, b))
                break
    return pairs


# --- resources ------------------------------------------------------------------------------------


def _growth(series: list[int]) -> tuple[int, float] | None:
    """(total growth, per call) when *series* grows steadily with the calls, else None."""
    vals = [v for v in series if v >= 0]
    if len(vals) < 6:
        return None
    # Ignore the first call (lazy initialisation opens things once) and tolerate noise:
    # flag only growth of at least one per two calls, rising in most steps.
    base = vals[1]
    total = vals[-1] - base
    calls = len(vals) - 2
    rises = sum(1 for a, b in itertools.pairwise(vals[1:]) if b > a)
    if total >= max(3, calls / 2) and rises >= calls / 2:
        return total, total / calls
    return None


def probe_resources(ctx: ProbeContext) -> list[Finding]:
    """TSG721/TSG722: descriptors or threads that grow with every call of the sequential pass."""
    rec: PassRecord | None = ctx.shared.get("sequential")
    if rec is None:
        return []
    findings: list[Finding] = []
    for code, series, what in (
        ("TSG721", rec.fds, "open file descriptors"),
        ("TSG722", rec.threads, "threads"),
    ):
        g = _growth(series)
        if g is None:
            continue
        total, rate = g
        findings.append(
            make_finding(
                code,
                path="loader",
                message=(
                    f"{what} grew by {total} over {len(series) - 2} calls ({rate:.2f} per call, "
                    f"{series[0]} -> {series[-1]}); an epoch of 10,000 batches would leave about "
                    f"{int(rate * 10_000)} behind"
                ),
                details={"series": series},
            )
        )
    return findings


# --- order: the same indices again, reversed --------------------------------------------------------


def probe_order(ctx: ProbeContext) -> list[Finding]:
    """Call the indices again in reverse: order-dependent results (TSG301) or a random loader."""
    rec: PassRecord | None = ctx.shared.get("sequential")
    if rec is None or len(rec.calls) < 1:
        return []
    caller = _Caller()
    try:
        if ctx.kind == "sequence":
            again = PassRecord()
            for c in reversed(_affordable(ctx, rec.calls, passes=4)):
                out = caller.call(
                    functools.partial(_getitem, ctx.loader, c.index), _call_timeout(ctx)
                )
                if out is None:
                    return _hang_finding(ctx, c.index, "second pass, reversed order")
                again.calls.append(_record(c.index, out))
        else:
            if ctx.make_iterator is None:
                return []  # a one-shot iterator has no second stream
            again, hang = _sequential_pass(ctx, caller, limit=len(rec.calls))
            if hang is not None:
                return hang
    finally:
        caller.close()
    first = rec.by_index()
    # A cursor serves whole batches that another index served in the first pass; random
    # augmentation or random sampling gives batches never seen before.
    seen_batches = {c.info.fingerprint for c in rec.calls if c.info is not None}
    moved: list[int] = []
    novel: list[int] = []
    for c in again.calls:
        f = first.get(c.index)
        if f is None or f.info is None or c.info is None:
            continue
        if f.info.fingerprint == c.info.fingerprint:
            continue
        if c.info.empty and not f.info.empty:
            moved.append(c.index)  # a cursor that ran past the end of the data
        elif c.info.fingerprint in seen_batches and not c.info.empty:
            moved.append(c.index)
        else:
            novel.append(c.index)
    if ctx.kind == "generator" and (moved or novel):
        # A fresh iterator may shuffle or sample anew each time it is made (an epoch): that
        # is not shared state. Exact comparisons of generator output stop here.
        ctx.shared["random"] = True
        return []
    if novel and not moved:
        ctx.shared["random"] = True
        return []
    if not moved:
        return []
    ctx.shared["order_dependent"] = moved
    severity = Severity.ERROR if ctx.workers > 1 else Severity.WARNING
    path = f"loader[{moved[0]}]" if ctx.kind == "sequence" else "loader"
    what = (
        "called again in reverse order, "
        f"{len(moved)} of {len(again.calls)} indices returned other samples ({_some(moved)})"
        if ctx.kind == "sequence"
        else f"a second iterator returned other samples in {len(moved)} of {len(again.calls)} batches"
    )
    return [
        make_finding(
            "TSG301",
            path=path,
            message=(
                f"{what}: the result depends on earlier calls (a cursor or cached state), not "
                f"only on the index. With workers={ctx.workers} "
                + (
                    "this silently trains on duplicated and skipped samples"
                    if ctx.workers > 1
                    else "it works only because one worker calls the indices in order; "
                    "workers>1 would train on duplicated and skipped samples"
                )
            ),
            severity=severity,
            details={"indices": moved},
        )
    ]


# --- threads --------------------------------------------------------------------------------------


def _lock_like(loader: Any) -> list[tuple[str, Any]]:
    try:
        attrs = vars(loader)
    except TypeError:
        return []
    out = []
    for k, v in attrs.items():
        if hasattr(v, "acquire") and hasattr(v, "release"):
            out.append((k, v))
    return out


def _is_held(lock: Any) -> bool:
    locked = getattr(lock, "locked", None)
    if callable(locked):
        try:
            return bool(locked())
        except Exception:
            return False
    return repr(lock).startswith("<locked")  # _thread.RLock before 3.14


@dataclasses.dataclass
class _ConcurrentRun:
    calls: list[CallRecord]
    wall: float
    hung: bool
    held_fraction: dict[str, float]
    results: dict[int, Any]
    inflight: list[int]  # indices whose call had not returned when the run ended


def _concurrent(
    ctx: ProbeContext, work: list[int], n_threads: int, *, stress: bool, sample_locks: bool
) -> _ConcurrentRun:
    """Run *work* (indices, or positions for a shared iterator) from n threads at once."""
    pending = collections.deque(work)
    take = threading.Lock()
    calls: list[CallRecord] = []
    results: dict[int, Any] = {}
    barrier = threading.Barrier(n_threads + 1)
    it_box: list[Iterator[Any]] = []
    stop = threading.Event()
    inflight: dict[int, int] = {}  # thread ident -> index being computed
    kept = [0]  # bytes of results kept

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            return
        while not stop.is_set():
            with take:
                if not pending:
                    return
                index = pending.popleft()
                inflight[threading.get_ident()] = index
            t0, c0 = time.perf_counter(), time.thread_time()
            out = _Outcome()
            try:
                if ctx.kind == "sequence":
                    out.value = ctx.loader[index]
                else:
                    out.value = next(it_box[0])
            except StopIteration:
                stop.set()
                with take:
                    inflight.pop(threading.get_ident(), None)
                return
            except BaseException as exc:
                out.error = exc
                out.tb = traceback.format_exc()
            t1 = time.perf_counter()
            out.seconds, out.cpu = t1 - t0, time.thread_time() - c0
            rec = _record(index, out)
            rec.started, rec.ended, rec.thread = t0, t1, threading.current_thread().name
            with take:
                inflight.pop(threading.get_ident(), None)
                calls.append(rec)
                if out.error is None and kept[0] < KEEP_RESULTS_BYTES:
                    results[index] = out.value
                    kept[0] += _nbytes(out.value)

    if ctx.kind == "generator":
        it_box.append(ctx.make_iterator() if ctx.make_iterator is not None else iter(ctx.loader))
    locks = _lock_like(ctx.loader) if sample_locks else []
    held = dict.fromkeys((k for k, _ in locks), 0)
    samples = 0
    threads = [
        threading.Thread(target=worker, name=f"threadsafe_gen-probe-{i}", daemon=True)
        for i in range(n_threads)
    ]
    old = _set_switchinterval(1e-6) if stress else None
    try:
        for t in threads:
            t.start()
        barrier.wait(timeout=10)
        t0 = time.perf_counter()
        per_call = ctx.batch_timeout
        deadline = time.monotonic() + min(
            ctx.remaining(), per_call * math.ceil(len(work) / n_threads) + per_call
        )
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            if locks:
                samples += 1
                for k, lock in locks:
                    held[k] += _is_held(lock)
                time.sleep(0.0005)
            else:
                alive = [t for t in threads if t.is_alive()]
                if alive:
                    alive[0].join(0.01)
        wall = time.perf_counter() - t0
    finally:
        if old is not None:
            sys.setswitchinterval(old)
    hung = any(t.is_alive() for t in threads)
    if hung:
        stop.set()
    frac = {k: (v / samples if samples else 0.0) for k, v in held.items()}
    with take:
        stuck = sorted(inflight.values())
    return _ConcurrentRun(calls, wall, hung, frac, results, stuck)


def probe_threads(ctx: ProbeContext) -> list[Finding]:
    """With workers>1 threads: concurrent passes compared with the sequential one."""
    rec: PassRecord | None = ctx.shared.get("sequential")
    if rec is None or not _threads_planned(ctx) or not rec.calls:
        return []
    n = min(max(ctx.workers, 2), MAX_PROBE_THREADS)
    if ctx.kind == "generator":
        return _threads_generator(ctx, rec, n)
    order = [c.index for c in _affordable(ctx, rec.calls, passes=3)]
    run1 = _concurrent(ctx, order, n, stress=True, sample_locks=False)
    if run1.hung:
        return _hang_finding(ctx, run1.inflight, f"{n} threads at once")
    ctx.shared["threads"] = run1
    # The timed runs: normal switch interval, and enough calls (indices repeated if need be)
    # for about 0.15 s of one-thread work, so scheduling noise on a busy machine stays small;
    # never more than a quarter of what is left of the budget.
    ok_seconds = sorted(c.seconds for c in rec.calls if c.ok) or [0.0]
    median = max(ok_seconds[len(ok_seconds) // 2], 1e-4)
    calls = int(min(0.15, ctx.remaining() / 8) / median)
    calls = max(4 * n, min(calls, 256))
    rev = order[::-1]
    work = (rev * (calls // len(rev) + 1))[:calls]
    # One thread, then n threads, back to back over the same (bounded) work: the ratio of the
    # two wall times is the speed-up, measured under the same machine load.
    base = _concurrent(ctx, work, 1, stress=False, sample_locks=False)
    if base.hung:
        return _hang_finding(ctx, base.inflight, "one thread")
    run2 = _concurrent(ctx, work, n, stress=False, sample_locks=True)
    if run2.hung:
        return _hang_finding(ctx, run2.inflight, f"{n} threads at once")
    findings: list[Finding] = []
    first = rec.by_index()
    differ: set[int] = set()
    raised: dict[int, CallRecord] = {}
    for c in run1.calls + run2.calls:
        f = first.get(c.index)
        if f is None or not f.ok:
            continue
        if not c.ok:
            raised.setdefault(c.index, c)
        elif (
            not _is_random(ctx)
            and f.info is not None
            and c.info is not None
            and f.info.fingerprint != c.info.fingerprint
        ):
            differ.add(c.index)
    if differ and not ctx.shared.get("order_dependent"):
        idx = sorted(differ)
        findings.append(
            make_finding(
                "TSG301",
                path=f"loader[{idx[0]}]",
                message=(
                    f"with {n} threads calling at once, {len(idx)} of {len(order)} indices returned "
                    f"other data than in the sequential pass ({_some(idx)}): __getitem__ shares "
                    "state between calls, and workers>1 silently trains on wrong or duplicated samples"
                ),
                details={"indices": idx, "threads": n},
            )
        )
    if raised:
        first_raised = next(iter(raised.values()))
        idx = sorted(raised)
        findings.append(
            make_finding(
                "TSG302",
                path=f"loader[{idx[0]}]",
                message=(
                    f"with {n} threads calling at once, {len(idx)} indices raised "
                    f"{_cut(first_raised.error)} ({_some(idx)}); each worked in the "
                    "sequential pass"
                ),
                details={
                    "indices": idx,
                    "error": first_raised.error,
                    "traceback": first_raised.traceback,
                },
            )
        )
    if not ctx.shared.get("results_changed"):
        shared_rec = PassRecord(calls=run1.calls, results=run1.results)
        findings += _results_changed(ctx, shared_rec, f"a pass with {n} threads")
    serial = _serialised(ctx, rec, base.wall, run2, n)
    if serial and not serial[0].path.startswith("loader.") and ctx.remaining() > 0:
        # No lock to point at, only timings: measure once more before saying so, since a
        # busy machine can delay thread wake-ups enough to hide the overlap once.
        again_base = _concurrent(ctx, work, 1, stress=False, sample_locks=False)
        again = _concurrent(ctx, work, n, stress=False, sample_locks=True)
        if not (again_base.hung or again.hung):
            serial = _serialised(ctx, rec, again_base.wall, again, n) and serial
    findings += serial
    return findings


def _serialised(
    ctx: ProbeContext, rec: PassRecord, one_thread: float, run: _ConcurrentRun, n: int
) -> list[Finding]:
    """TSG701: calls that should overlap but run one at a time."""
    ok = [c for c in rec.calls if c.ok]
    if not ok or not run.calls:
        return []
    seconds = sorted(c.seconds for c in ok)
    median = seconds[len(seconds) // 2]
    if median < 0.001:
        return []
    speedup = one_thread / run.wall if run.wall > 0 else 0.0
    ctx.shared["thread_speedup"] = speedup
    cpu_ratio = sum(c.cpu_seconds for c in ok) / max(sum(c.seconds for c in ok), 1e-9)
    held = [k for k, f in run.held_fraction.items() if f >= 0.8]
    # A lock of the loader held >= 80% of the time while n threads call is serialisation by
    # itself: a lock around a small part of each call is held for at most n times that part.
    # Without such a lock, only a measured speed-up near 1 for calls that mostly wait counts
    # (a CPU-bound call cannot overlap under the GIL, so that is not flagged).
    # Calls that mostly wait overlap almost perfectly (measured 3.2-4.1x with 4 threads and
    # 2.0-2.2x with 2 on a loaded 2-core machine); a hidden lock gives 0.9-1.5x.
    if not held and (speedup >= (2.0 if n >= 3 else 1.4) or cpu_ratio >= 0.3):
        return []
    why = (
        f"loader.{held[0]} was held {run.held_fraction[held[0]]:.0%} of the time calls were running"
        if held
        else f"each call spends {1 - cpu_ratio:.0%} of its time waiting (I/O or sleep), which threads could overlap"
    )
    return [
        make_finding(
            "TSG701",
            path=f"loader.{held[0]}" if held else "loader",
            message=(
                f"{n} threads ran {len(run.calls)} calls of median {median * 1000:.1f} ms with a "
                f"speed-up of {speedup:.2f}x over one thread (ideal {n}x); {why}"
            ),
            details={
                "speedup": round(speedup, 3),
                "threads": n,
                "held_fraction": run.held_fraction,
            },
        )
    ]


def _threads_generator(ctx: ProbeContext, rec: PassRecord, n: int) -> list[Finding]:
    count = len(rec.calls) if ctx.make_iterator is not None else ctx.max_batches - len(rec.calls)
    # A re-creatable generator draws exactly as many items as the sequential pass did, so the
    # two multisets must be equal when next() is safe.
    total = count if ctx.make_iterator is not None else max(count, 2 * n)
    run = _concurrent(ctx, list(range(max(total, 1))), n, stress=True, sample_locks=False)
    if run.hung:
        return _hang_finding(ctx, run.inflight, f"next() from {n} threads at once")
    ctx.shared["threads"] = run
    findings: list[Finding] = []
    bad = [c for c in run.calls if not c.ok]
    executing = [c for c in bad if "already executing" in (c.error or "")]
    if executing:
        findings.append(
            make_finding(
                "TSG306",
                path="loader",
                message=(
                    f"{n} threads calling next() on one generator raised "
                    f"'{_cut(executing[0].error, 120)}' {len(executing)} times in "
                    f"{len(run.calls)} calls"
                ),
                details={"errors": len(executing), "calls": len(run.calls)},
            )
        )
    other = [c for c in bad if c not in executing]
    if other:
        findings.append(
            make_finding(
                "TSG302",
                path="loader",
                message=(
                    f"{n} threads calling next() at once raised {_cut(other[0].error)} "
                    f"({len(other)} of {len(run.calls)} calls)"
                ),
                details={"error": other[0].error, "traceback": other[0].traceback},
            )
        )
    if ctx.make_iterator is None or _is_random(ctx):
        return findings
    findings += _separate_iterators(ctx, rec, n)
    if not executing:
        seq = collections.Counter(c.info.fingerprint for c in rec.calls if c.info is not None)
        got = collections.Counter(c.info.fingerprint for c in run.calls if c.info is not None)
        if seq != got:
            dup = sum((got - seq).values())
            missing = sum((seq - got).values())
            findings.append(
                make_finding(
                    "TSG306",
                    path="loader",
                    message=(
                        f"{n} threads sharing one iterator received {dup} duplicated and "
                        f"{missing} missing batches compared with one thread: the iterator is "
                        "not thread-safe"
                    ),
                    details={"duplicates": dup, "missing": missing},
                )
            )
    return findings


#: Items drawn from each of the separate iterators: a shared cursor shows from the second
#: round on, and a slow generator costs n times this many calls.
SEPARATE_ITEMS = 16


def _separate_iterators(ctx: ProbeContext, rec: PassRecord, n: int) -> list[Finding]:
    """TSG301: n iterators of one generator function, pulled from in turn.

    GeneratorDataset's workers and a tf.data interleave each run their own iterator of the
    generator function, and their next() calls interleave; each iterator must still yield
    what one iterator yields alone. Iterators that share a cursor (a module or class
    attribute, one file handle) split or repeat the data between them instead
    (docs/failure-modes.md row 6.4: 16-17 unique of 32). Round-robin order makes the interleaving
    deterministic (threads racing in lockstep would read the shared cursor alike and hide it).
    Needs a re-creatable, non-random generator.
    """
    make = ctx.make_iterator
    if make is None:
        return []
    # Each iterator against the reference's first `limit` items; a finite reference that
    # fits gets one pull more, which shows extra items.
    limit = min(len(rec.calls), SEPARATE_ITEMS)
    finite = rec.exhausted_after is not None
    pulls = limit + 1 if finite and len(rec.calls) <= SEPARATE_ITEMS else limit
    reference = collections.Counter(
        c.info.fingerprint if c.info is not None else None for c in rec.calls[:limit]
    )
    got: list[collections.Counter[Any]] = [collections.Counter() for _ in range(n)]
    caller = _Caller()
    try:
        made = caller.call(lambda: [make() for _ in range(n)], _call_timeout(ctx))
        if made is None:
            return _hang_finding(ctx, [], f"making {n} iterators")
        if made.error is not None:
            return []
        live: list[tuple[int, Iterator[Any]]] = list(enumerate(made.value))
        for _ in range(pulls):
            if ctx.remaining() <= 0:
                return []  # not enough budget left to compare them
            for k, it in list(live):
                out = caller.call(functools.partial(next, it), _call_timeout(ctx))
                if out is None:
                    return _hang_finding(ctx, [], f"{n} iterators pulled in turn")
                if isinstance(out.error, StopIteration):
                    live.remove((k, it))
                    continue
                if out.error is not None:
                    return []  # an exception is reported by the sequential and thread runs
                info = _record(0, out).info
                got[k][info.fingerprint if info is not None else None] += 1
            if not live:
                break
    finally:
        caller.close()
    wrong = [k for k in range(n) if got[k] != reference]
    if not wrong:
        return []
    union: collections.Counter[Any] = sum(got, collections.Counter())
    expected = collections.Counter({fp: c * n for fp, c in reference.items()})
    dup = sum((union - expected).values())
    missing = sum((expected - union).values())
    return [
        make_finding(
            "TSG301",
            path="loader",
            message=(
                f"{n} iterators of the generator function, pulled from in turn (as "
                "threadsafe_gen.keras.GeneratorDataset's workers and a tf.data interleave "
                f"pull from theirs), did not each yield what one iterator yields alone: "
                f"{len(wrong)} of {n} differed, with {dup} batches more and {missing} fewer "
                f"than {n} full copies. The iterators share state (a module or class "
                "attribute, one file handle or cursor), so parallel workers split or repeat "
                "the data"
            ),
            hint=(
                "Keep the generator's position in local variables, open its file or cursor "
                "inside the generator body, and split the items between workers with "
                "threadsafe_gen.shard(...) instead of a shared counter."
            ),
            details={"iterators": n, "differed": len(wrong), "extra": dup, "missing": missing},
        )
    ]


# --- duplicates -----------------------------------------------------------------------------------


def probe_duplicates(ctx: ProbeContext) -> list[Finding]:
    """TSG401: identical sample rows within one pass, sequential and with the planned workers."""
    rec: PassRecord | None = ctx.shared.get("sequential")
    if rec is None:
        return []
    seq_rows = [r for c in rec.calls if c.info is not None for r in c.info.rows]
    seq_dups = len(seq_rows) - len(set(seq_rows))
    findings: list[Finding] = []
    run: _ConcurrentRun | None = ctx.shared.get("threads")
    if run is not None and ctx.kind == "sequence":
        # One pass of the threaded run covers each index once, as a Keras epoch does.
        seen: dict[int, CallRecord] = {}
        for c in run.calls:
            seen.setdefault(c.index, c)
        rows = [r for c in seen.values() if c.info is not None for r in c.info.rows]
        dups = len(rows) - len(set(rows))
        if dups > seq_dups:
            extra = dups - seq_dups
            findings.append(
                make_finding(
                    "TSG401",
                    path="loader",
                    message=(
                        f"with {ctx.workers} worker threads, {extra} of {len(rows)} sample rows in "
                        f"one pass were duplicates that the sequential pass does not have "
                        f"({dups} against {seq_dups})"
                    ),
                    severity=Severity.ERROR,
                    details={
                        "duplicates": dups,
                        "sequential_duplicates": seq_dups,
                        "rows": len(rows),
                    },
                )
            )
    if seq_dups:
        counts = collections.Counter(seq_rows)
        where: dict[bytes, list[int]] = collections.defaultdict(list)
        for c in rec.calls:
            if c.info is None:
                continue
            for r in c.info.rows:
                if counts[r] > 1 and len(where[r]) < 4 and c.index not in where[r]:
                    where[r].append(c.index)
        example = next(iter(where.values()), [])
        fraction = seq_dups / max(len(seq_rows), 1)
        whole = collections.Counter(
            c.info.fingerprint for c in rec.calls if c.info is not None and not c.info.empty
        )
        same_batches = sum(v - 1 for v in whole.values() if v > 1)
        severity = Severity.WARNING if fraction >= 0.1 or same_batches else Severity.INFO
        label = "loader[...]" if ctx.kind == "sequence" else "batches"
        findings.append(
            make_finding(
                "TSG401",
                path="loader",
                message=(
                    f"{seq_dups} of {len(seq_rows)} sample rows ({fraction:.0%}) repeat within one "
                    f"sequential pass"
                    + (f", and {same_batches} whole batches repeat" if same_batches else "")
                    + f"; one repeated row appears in {label} {example}. If the data has "
                    "legitimately identical samples, ignore this"
                ),
                severity=severity,
                details={"duplicates": seq_dups, "rows": len(seq_rows), "example_indices": example},
            )
        )
    return findings


#: The in-process probes, in the order check_loader runs them.
PROBES: list[Callable[[ProbeContext], list[Finding]]] = [
    probe_sequential,
    probe_structure,
    probe_state,
    probe_resources,
    probe_order,
    probe_threads,
    probe_duplicates,
]
