"""The order and threads probes: does a result depend on the call order or on other threads?

``order``    the sequential pass's indices again, in reverse (a generator: a second iterator).
             A batch another index served before is a cursor (TSG301); batches never seen
             before mean the loader is random by design, and exact comparisons stop.
``threads``  with workers>1 threads: concurrent passes from N threads started on a Barrier
             with ``sys.setswitchinterval(1e-6)``, compared with the sequential pass: other
             data (TSG301), exceptions only under concurrency (TSG302), a shared iterator that
             raises or loses batches (TSG306), a lock that serialises the calls (TSG701). For
             a generator function, also N separate iterators pulled from in turn: TSG301 when
             they share a cursor.

Decides TSG301, TSG302, TSG306 and TSG701. A reused buffer seen in a concurrent run is
TSG304 (:func:`~threadsafe_gen._probes.state.results_changed`).
"""

from __future__ import annotations

import collections
import functools
import math
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from .._finding import Finding, make_finding
from .._locks import is_held
from .._registry import Severity
from .._text import one_line, some
from . import failures
from ._calls import (
    KEEP_RESULTS_BYTES,
    Caller,
    CallRecord,
    ConcurrentRun,
    Outcome,
    PassRecord,
    affordable,
    getitem,
    nbytes,
    record,
)
from ._context import Probe, ProbeContext
from ._observe import usable
from ._race import RACES_PROVOKABLE, provoke
from .sequential import sequential_pass
from .state import results_changed

__all__ = ["CODES", "MAX_PROBE_THREADS", "PROBES", "probe_order", "probe_threads"]

CODES: frozenset[str] = frozenset({"TSG301", "TSG302", "TSG306", "TSG701"})

#: Threads used by the concurrency probe: the planned workers, at least 2, at most this.
MAX_PROBE_THREADS = 8

#: Items drawn from each of the separate iterators: a shared cursor shows from the second
#: round on, and a slow generator costs n times this many calls.
SEPARATE_ITEMS = 16


# --- order: the same indices again, reversed --------------------------------------------------------


def probe_order(ctx: ProbeContext) -> list[Finding]:
    """Call the indices again in reverse: order-dependent results (TSG301) or a random loader."""
    rec = ctx.state.sequential
    if rec is None or len(rec.calls) < 1:
        return []
    observed = usable(ctx.state.observed)
    if observed is not None and (observed.drew or observed.unseeded):
        # The canary saw the calls draw random numbers: results differ by design, and two
        # that happen to agree prove nothing (exact comparisons would depend on luck).
        ctx.state.random = True
        return []
    caller = Caller()
    try:
        if ctx.kind == "sequence":
            again = PassRecord()
            for c in reversed(affordable(rec.calls, ctx.remaining(), passes=4)):
                out = caller.call(
                    functools.partial(getitem, ctx.loader, c.index), ctx.call_timeout()
                )
                if out is None:
                    return failures.hang_finding(ctx, c.index, "second pass, reversed order")
                again.calls.append(record(c.index, out, ctx.state.errors))
        else:
            if ctx.make_iterator is None:
                return []  # a one-shot iterator has no second stream
            again, hang = sequential_pass(ctx, caller, limit=len(rec.calls))
            if hang is not None:
                return hang
    finally:
        caller.close()
    moved, novel = _moved_and_novel(rec, again)
    if ctx.kind == "generator" and (moved or novel):
        # A fresh iterator may shuffle or sample anew each time it is made (an epoch): that
        # is not shared state. Exact comparisons of generator output stop here.
        ctx.state.random = True
        return []
    if novel and not moved:
        ctx.state.random = True
        return []
    if not moved:
        return []
    ctx.state.order_dependent = moved
    return [_order_finding(ctx, moved, len(again.calls))]


def _moved_and_novel(rec: PassRecord, again: PassRecord) -> tuple[list[int], list[int]]:
    """Indices of *again* that served another index's batch, and ones that served new data."""
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
    return moved, novel


def _order_finding(ctx: ProbeContext, moved: list[int], calls: int) -> Finding:
    severity = Severity.ERROR if ctx.workers > 1 else Severity.WARNING
    path = f"loader[{moved[0]}]" if ctx.kind == "sequence" else "loader"
    what = (
        "called again in reverse order, "
        f"{len(moved)} of {calls} indices returned other samples ({some(moved)})"
        if ctx.kind == "sequence"
        else f"a second iterator returned other samples in {len(moved)} of {calls} batches"
    )
    return make_finding(
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


def _order_note(ctx: ProbeContext) -> str:
    return "the loader is random by design: exact comparisons skipped" if ctx.state.random else ""


# --- running the loader from n threads at once ----------------------------------------------------


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


def _set_switchinterval(value: float) -> float:
    old = sys.getswitchinterval()
    sys.setswitchinterval(value)
    return old


class _Run:
    """The shared state of one concurrent run: pending work, results, calls in flight."""

    def __init__(self, ctx: ProbeContext, work: list[int], n_threads: int) -> None:
        self.ctx = ctx
        self.pending = collections.deque(work)
        self.take = threading.Lock()
        self.calls: list[CallRecord] = []
        self.results: dict[int, Any] = {}
        self.barrier = threading.Barrier(n_threads + 1)
        self.it_box: list[Iterator[Any]] = []
        self.stop = threading.Event()
        self.inflight: dict[int, int] = {}  # thread ident -> index being computed
        self.kept = 0  # bytes of results kept

    def worker(self) -> None:
        try:
            self.barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            return
        while not self.stop.is_set():
            with self.take:
                if not self.pending:
                    return
                index = self.pending.popleft()
                self.inflight[threading.get_ident()] = index
            if not self._call(index):
                return

    def _call(self, index: int) -> bool:
        """Make one call; False when the shared iterator is exhausted."""
        t0, c0 = time.perf_counter(), time.thread_time()
        out = Outcome()
        try:
            if self.ctx.kind == "sequence":
                out.value = self.ctx.loader[index]
            else:
                out.value = next(self.it_box[0])
        except StopIteration:
            self.stop.set()
            with self.take:
                self.inflight.pop(threading.get_ident(), None)
            return False
        except BaseException as exc:
            out.error = exc
            out.tb = traceback.format_exc()
        t1 = time.perf_counter()
        out.seconds, out.cpu = t1 - t0, time.thread_time() - c0
        rec = record(index, out, self.ctx.state.errors)
        # The exception's traceback holds this frame, which holds `out`: drop the exception
        # now, or each one (with its message) waits for the cyclic garbage collector.
        out.error = None
        rec.started, rec.ended, rec.thread = t0, t1, threading.current_thread().name
        with self.take:
            self.inflight.pop(threading.get_ident(), None)
            self.calls.append(rec)
            if out.error is None and self.kept < KEEP_RESULTS_BYTES:
                self.results[index] = out.value
                self.kept += nbytes(out.value)
        return True


def _concurrent(
    ctx: ProbeContext, work: list[int], n_threads: int, *, stress: bool, sample_locks: bool
) -> ConcurrentRun:
    """Run *work* (indices, or positions for a shared iterator) from n threads at once."""
    run = _Run(ctx, work, n_threads)
    if ctx.kind == "generator":
        run.it_box.append(
            ctx.make_iterator() if ctx.make_iterator is not None else iter(ctx.loader)
        )
    locks = _lock_like(ctx.loader) if sample_locks else []
    held = dict.fromkeys((k for k, _ in locks), 0)
    samples = 0
    threads = [
        threading.Thread(target=run.worker, name=f"threadsafe_gen-probe-{i}", daemon=True)
        for i in range(n_threads)
    ]
    old = _set_switchinterval(1e-6) if stress else None
    try:
        for t in threads:
            t.start()
        run.barrier.wait(timeout=10)
        t0 = time.perf_counter()
        per_call = ctx.batch_timeout
        deadline = time.monotonic() + min(
            ctx.remaining(), per_call * math.ceil(len(work) / n_threads) + per_call
        )
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            if locks:
                samples += 1
                for k, lock in locks:
                    held[k] += is_held(lock)
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
        run.stop.set()
    frac = {k: (v / samples if samples else 0.0) for k, v in held.items()}
    with run.take:
        stuck = sorted(run.inflight.values())
    return ConcurrentRun(run.calls, wall, hung, frac, run.results, stuck)


# --- threads: sequences ---------------------------------------------------------------------------


def probe_threads(ctx: ProbeContext) -> list[Finding]:
    """With workers>1 threads: concurrent passes compared with the sequential one."""
    rec = ctx.state.sequential
    if rec is None or not ctx.threads_planned or not rec.calls:
        return []
    n = min(max(ctx.workers, 2), MAX_PROBE_THREADS)
    if ctx.kind == "generator":
        return _threads_generator(ctx, rec, n)
    order = [c.index for c in affordable(rec.calls, ctx.remaining(), passes=3)]
    run1 = _concurrent(ctx, order, n, stress=True, sample_locks=False)
    if run1.hung:
        return failures.hang_finding(ctx, run1.inflight, f"{n} threads at once")
    ctx.state.threads = run1
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
        return failures.hang_finding(ctx, base.inflight, "one thread")
    run2 = _concurrent(ctx, work, n, stress=False, sample_locks=True)
    if run2.hung:
        return failures.hang_finding(ctx, run2.inflight, f"{n} threads at once")
    provoked = _provoked_calls(ctx, order[0], order[-1], primed=True)
    if provoked is None:
        return failures.hang_finding(
            ctx, [order[0], order[-1]], "one call paused inside a generator"
        )
    findings = _compare(ctx, rec, [*run1.calls, *run2.calls, *provoked], n, len(order))
    if not ctx.state.results_changed:
        shared_rec = PassRecord(calls=run1.calls, results=run1.results)
        findings += results_changed(ctx, shared_rec, f"a pass with {n} threads")
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


def _compare(
    ctx: ProbeContext, rec: PassRecord, calls: list[CallRecord], n: int, probed: int
) -> list[Finding]:
    """TSG301 (other data) and TSG302 (raised) for concurrent calls of indices that worked."""
    first = rec.by_index()
    differ: set[int] = set()
    raised: dict[int, CallRecord] = {}
    for c in calls:
        f = first.get(c.index)
        if f is None or not f.ok:
            continue
        if not c.ok:
            raised.setdefault(c.index, c)
        elif (
            not ctx.state.random
            and f.info is not None
            and c.info is not None
            and f.info.fingerprint != c.info.fingerprint
        ):
            differ.add(c.index)
    findings: list[Finding] = []
    if differ and not ctx.state.order_dependent:
        idx = sorted(differ)
        findings.append(
            make_finding(
                "TSG301",
                path=f"loader[{idx[0]}]",
                message=(
                    f"with {n} threads calling at once, {len(idx)} of {probed} indices returned "
                    f"other data than in the sequential pass ({some(idx)}): __getitem__ shares "
                    "state between calls, and workers>1 silently trains on wrong or duplicated samples"
                ),
                details={"indices": idx, "threads": n},
            )
        )
    if raised:
        first_raised = next(iter(raised.values()))
        idx = sorted(raised)
        held = [c.thread for c in calls if not c.ok and c.thread.startswith(_HELD)]
        how = (
            f"; provoked on purpose: it was called while another call was paused "
            f"{held[0].removeprefix(_HELD)}, as a worker thread may be at any time"
            if held
            else ""
        )
        findings.append(
            make_finding(
                "TSG302",
                path=f"loader[{idx[0]}]",
                message=(
                    f"with {n} threads calling at once, {len(idx)} indices raised "
                    f"{one_line(first_raised.error)} ({some(idx)}); each worked in the "
                    f"sequential pass{how}"
                ),
                details={
                    "indices": idx,
                    "error": first_raised.error,
                    "traceback": first_raised.traceback,
                },
            )
        )
    return findings


def _serialised(
    ctx: ProbeContext, rec: PassRecord, one_thread: float, run: ConcurrentRun, n: int
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
    ctx.state.thread_speedup = speedup
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


def _threads_note(ctx: ProbeContext) -> str:
    if ctx.state.thread_speedup is None:
        return ""
    n = min(max(ctx.workers, 2), MAX_PROBE_THREADS)
    return f"speed-up {ctx.state.thread_speedup:.2f}x with {n} threads"


#: CallRecord.thread of a call made while another call was paused inside a generator.
_HELD = "held "


def _provoked_calls(
    ctx: ProbeContext, first: int, second: int, *, primed: bool
) -> list[CallRecord] | None:
    """Calls that raised while another call was paused inside a generator the loader keeps
    (:func:`~threadsafe_gen._probes._race.provoke`); None when the calls did not finish.

    For a sequence, *first* and *second* are indices; for a generator they are unused and
    both calls are next() on one iterator (*primed*: it already yielded, so its frame is
    resumed, not started).
    """
    if not RACES_PROVOKABLE:
        return []
    if ctx.kind == "sequence":
        call_a: Callable[[], Any] = functools.partial(getitem, ctx.loader, first)
        call_b: Callable[[], Any] = functools.partial(getitem, ctx.loader, second)
    else:
        it = ctx.make_iterator() if ctx.make_iterator is not None else iter(ctx.loader)
        if not primed:
            try:
                next(it)
            except Exception:
                return []
        call_a = call_b = functools.partial(next, it)
        second = 1
    timeout = min(2 * ctx.batch_timeout, ctx.remaining())
    found = provoke(call_a, call_b, wait=min(0.25, ctx.batch_timeout), timeout=timeout)
    if found is None:
        return None
    out: list[CallRecord] = []
    for p in found:
        if p.outcome != "raised" or p.error is None or isinstance(p.error, StopIteration):
            continue
        rec = CallRecord(index=second, error_type=type(p.error).__name__, traceback=p.traceback)
        rec.error = f"{type(p.error).__name__}: {p.error}"
        rec.thread = f"{_HELD}inside {p.held_in}"
        out.append(rec)
    return out


# --- threads: generators --------------------------------------------------------------------------


def _threads_generator(ctx: ProbeContext, rec: PassRecord, n: int) -> list[Finding]:
    count = len(rec.calls) if ctx.make_iterator is not None else ctx.max_batches - len(rec.calls)
    # A re-creatable generator draws exactly as many items as the sequential pass did, so the
    # two multisets must be equal when next() is safe.
    total = count if ctx.make_iterator is not None else max(count, 2 * n)
    run = _concurrent(ctx, list(range(max(total, 1))), n, stress=True, sample_locks=False)
    if run.hung:
        return failures.hang_finding(ctx, run.inflight, f"next() from {n} threads at once")
    ctx.state.threads = run
    provoked = _provoked_calls(ctx, 0, 1, primed=ctx.make_iterator is None)
    if provoked is None:
        return failures.hang_finding(ctx, [], "one next() paused inside the generator")
    findings: list[Finding] = []
    bad = [c for c in run.calls if not c.ok] + provoked
    executing = [c for c in bad if "already executing" in (c.error or "")]
    if executing:
        held = [c.thread.removeprefix(_HELD) for c in executing if c.thread.startswith(_HELD)]
        how = (
            f"; provoked on purpose: next() was called while another next() was paused "
            f"{held[0]}, as a worker thread may be at any time"
            if held
            else ""
        )
        findings.append(
            make_finding(
                "TSG306",
                path="loader",
                message=(
                    f"{n} threads calling next() on one generator raised "
                    f"'{one_line(executing[0].error, 120)}' {len(executing)} times in "
                    f"{len(run.calls) + len(provoked)} calls{how}"
                ),
                details={"errors": len(executing), "calls": len(run.calls) + len(provoked)},
            )
        )
    other = [c for c in bad if c not in executing]
    if other:
        findings.append(
            make_finding(
                "TSG302",
                path="loader",
                message=(
                    f"{n} threads calling next() at once raised {one_line(other[0].error)} "
                    f"({len(other)} of {len(run.calls)} calls)"
                ),
                details={"error": other[0].error, "traceback": other[0].traceback},
            )
        )
    if ctx.make_iterator is None or ctx.state.random:
        return findings
    findings += _separate_iterators(ctx, rec, n)
    if not executing:
        findings += _lost_batches(rec, run, n)
    return findings


def _lost_batches(rec: PassRecord, run: ConcurrentRun, n: int) -> list[Finding]:
    """TSG306: threads sharing one iterator got other batches than one thread did."""
    seq = collections.Counter(c.info.fingerprint for c in rec.calls if c.info is not None)
    got = collections.Counter(c.info.fingerprint for c in run.calls if c.info is not None)
    if seq == got:
        return []
    dup = sum((got - seq).values())
    missing = sum((seq - got).values())
    return [
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
    ]


def _separate_iterators(ctx: ProbeContext, rec: PassRecord, n: int) -> list[Finding]:
    """TSG301: n iterators of one generator function, pulled from in turn.

    GeneratorDataset's workers and a tf.data interleave each run their own iterator of the
    generator function, and their next() calls interleave; each iterator must still yield
    what one iterator yields alone. Iterators that share a cursor (a module or class
    attribute, one file handle) split or repeat the data between them instead
    (docs/failure-modes.md row 6.4: 16-17 unique of 32). Round-robin order makes the
    interleaving deterministic (threads racing in lockstep would read the shared cursor
    alike and hide it). Needs a re-creatable, non-random generator.
    """
    if ctx.make_iterator is None:
        return []
    # Each iterator against the reference's first `limit` items; a finite reference that
    # fits gets one pull more, which shows extra items.
    limit = min(len(rec.calls), SEPARATE_ITEMS)
    finite = rec.exhausted_after is not None
    pulls = limit + 1 if finite and len(rec.calls) <= SEPARATE_ITEMS else limit
    reference = collections.Counter(
        c.info.fingerprint if c.info is not None else None for c in rec.calls[:limit]
    )
    counters, hang = _pull_in_turn(ctx, ctx.make_iterator, n, pulls)
    if counters is None:
        return hang
    wrong = [k for k in range(n) if counters[k] != reference]
    if not wrong:
        return []
    union: collections.Counter[Any] = sum(counters, collections.Counter())
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


def _pull_in_turn(
    ctx: ProbeContext, make: Callable[[], Iterator[Any]], n: int, pulls: int
) -> tuple[list[collections.Counter[Any]] | None, list[Finding]]:
    """(fingerprint counts per iterator after *pulls* rounds, []), or (None, hang findings)
    when the comparison gave up (no findings: an exception or the budget stopped it)."""
    got: list[collections.Counter[Any]] = [collections.Counter() for _ in range(n)]
    caller = Caller()
    try:
        made = caller.call(lambda: [make() for _ in range(n)], ctx.call_timeout())
        if made is None:
            return None, failures.hang_finding(ctx, [], f"making {n} iterators")
        if made.error is not None:
            return None, []
        live: list[tuple[int, Iterator[Any]]] = list(enumerate(made.value))
        for _ in range(pulls):
            if ctx.remaining() <= 0:
                return None, []  # not enough budget left to compare them
            for k, it in list(live):
                out = caller.call(functools.partial(next, it), ctx.call_timeout())
                if out is None:
                    return None, failures.hang_finding(ctx, [], f"{n} iterators pulled in turn")
                if isinstance(out.error, StopIteration):
                    live.remove((k, it))
                    continue
                if out.error is not None:
                    return None, []  # an exception is reported by the sequential and thread runs
                info = record(0, out, ctx.state.errors).info
                got[k][info.fingerprint if info is not None else None] += 1
            if not live:
                break
    finally:
        caller.close()
    return got, []


PROBES = (
    Probe(
        "order",
        probe_order,
        in_process=True,
        needs=("sequential",),
        reads=("observed",),
        records=("random", "order_dependent", "inprocess_unsafe", "cut_short"),
        note=_order_note,
    ),
    Probe(
        "threads",
        probe_threads,
        in_process=True,
        needs=("sequential",),
        reads=("random", "order_dependent", "results_changed"),
        records=("threads", "thread_speedup", "results_changed", "inprocess_unsafe", "cut_short"),
        note=_threads_note,
    ),
)
