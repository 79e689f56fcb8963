"""The sequential probe: one pass over the loader, as one worker would make it.

First a forked canary runs the same calls (where fork is safe), so a loader that kills its
process is reported instead of killing the caller. The canary also observes each call
(:mod:`~threadsafe_gen._probes._observe`: the RNGs it draws from or seeds, the attributes it
assigns, the inherited sockets and file offsets it uses) for the probes that judge those
(``state.observed``). Then Keras' two peek calls run on the
calling thread (only when the canary showed they return), and the pass runs on a helper
thread with a per-call timeout. Its :class:`~threadsafe_gen._probes._calls.PassRecord`
(fingerprints per index) is what every later in-process probe compares with.

Decides TSG305 (works on the thread that created the loader, fails on another) and TSG601
(IndexError below ``len()``, or batches past ``len()``); the crashes, hangs and exceptions it
meets are reported through :mod:`~threadsafe_gen._probes.failures`.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from .._finding import Finding, make_finding
from .._registry import Severity
from .._text import one_line, some
from . import failures
from ._batches import InvalidBatchError, batch_info
from ._calls import Caller, CallRecord, PassRecord, error_record, fd_count, getitem, record
from ._child import Payload, watch_parent
from ._context import Probe, ProbeContext
from ._observe import InheritedHandles, ModuleScan, Observation, Observer
from ._pool import Worker, abandon, drive, make_worker, start
from .inspection import walk
from .state import snapshot

__all__ = ["CODES", "PROBES", "fork_is_safe", "probe_sequential", "sequential_pass"]

CODES: frozenset[str] = frozenset({"TSG305", "TSG601"})

# NOTE [ In-process crash and hang safety ]
# A loader may call os._exit, crash in native code, or never return. Before any in-process
# call, the sequential indices run in a forked child (the "canary", only where fork is safe):
# if the child dies, the index and exit code or signal become a TSG821 finding and no
# in-process probe runs. Every in-process call then runs on a daemon helper thread and is
# waited for with ctx.call_timeout(): a call that does not return becomes a TSG801 finding,
# state.inprocess_unsafe is set, and no later probe calls the loader in this process again
# (the stuck daemon thread is abandoned; Python cannot kill a thread, and a daemon thread
# does not block interpreter exit). Without fork (Windows), a crash in the loader ends the
# calling process: there is nothing safer to run it in.


def fork_is_safe() -> bool:
    """Whether a forked child can run the loader here (the canary and preflights need it).

    macOS has fork, but system libraries may crash a forked child for reasons that have
    nothing to do with the loader (which is why spawn is its default).
    """
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"


# --- the forked canary ---------------------------------------------------------------------------


def _canary_main(conn: Any, ctx: ProbeContext, scan: ModuleScan | None, parent_pid: int) -> None:
    """Child side of the canary: call every index, announcing each one before the call.

    The sockets and files this child inherited are swapped first (:class:`InheritedHandles`),
    so the canary never talks on the caller's connections nor moves its file offsets. A sequence is called as Keras calls it
    (its two peek indices, then every index) under an :class:`Observer`, whose record of each
    call follows it as a ``("use", ...)`` message.
    """
    watch_parent(parent_pid)
    try:
        handles = InheritedHandles(keep={conn.fileno()})
        if ctx.kind == "sequence":
            observer = _observer(ctx.loader, scan)
            for i in _canary_indices(ctx):
                conn.send(("start", i))
                call = functools.partial(getitem, ctx.loader, i)
                if observer is None:
                    use, error = None, _call_quietly(call)
                else:
                    use, error = observer.call(i, call, handles)
                if isinstance(error, IndexError) and ctx.length is None:
                    break  # the end of a sequence whose len() raised: as the pass does
                if use is not None:
                    conn.send(("use", dataclasses.asdict(use)))
        else:
            it = ctx.make_iterator() if ctx.make_iterator is not None else iter(ctx.loader)
            for i in range(ctx.max_batches):
                conn.send(("start", i))
                if _call_quietly(functools.partial(next, it)) is not None:
                    break
        conn.send(("done", -1))
    finally:
        conn.close()


def _call_quietly(call: Callable[[], Any]) -> BaseException | None:
    """What *call* raised (exceptions are the sequential pass's business; only death counts
    in the canary)."""
    try:
        call()
    except BaseException as exc:
        return exc
    return None


def _canary_indices(ctx: ProbeContext) -> list[int]:
    """Keras' peek (the first two indices), then every index: what the caller will run."""
    return ctx.indices[: _peek_count(ctx)] + list(ctx.indices)


def _peek_count(ctx: ProbeContext) -> int:
    return len([i for i in ctx.indices[:2] if i in (0, 1)])


def _observer(loader: Any, scan: ModuleScan | None) -> Observer | None:
    if scan is None:
        return None
    try:
        return Observer(loader, walk(loader).rngs, scan)
    except Exception:  # observing is a bonus: the canary's job is to survive the calls
        return None


def _module_scan() -> ModuleScan | None:
    try:
        return ModuleScan.now()
    except Exception:  # observing is a bonus: never let it stop the check
        return None


def _run_canary(ctx: ProbeContext) -> Finding | None:
    """Run the sequential calls in a forked child; a TSG821 finding if the child died."""
    if not fork_is_safe():
        ctx.state.canary = "skipped: no safe fork on this platform"
        return None
    mp = multiprocessing.get_context("fork")
    parent_conn, child_conn = mp.Pipe(duplex=False)
    scan = _module_scan() if ctx.kind == "sequence" else None
    proc = mp.Process(target=_canary_main, args=(child_conn, ctx, scan, os.getpid()), daemon=True)
    with warnings.catch_warnings():
        # Python >= 3.12 warns on fork of a multi-threaded process; the child only calls the
        # loader and exits, which is what Keras' forked workers do too.
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    child_conn.close()
    uses: list[dict[str, Any]] = []
    try:
        status, current, completed = _watch_canary(ctx, proc, parent_conn, uses)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5.0)
        parent_conn.close()
    ctx.state.canary = f"{status} at index {current}" if status != "done" else "done"
    ctx.state.canary_completed = completed
    if status == "done" and ctx.kind == "sequence" and uses:
        # Only a complete record: the judgements that read it compare the peek with the rest.
        ctx.state.observed = Observation.from_messages(uses, _peek_count(ctx))
    if status == "died" and proc.exitcode is not None:
        return failures.canary_death(ctx, current, proc.exitcode)
    return None


def _watch_canary(
    ctx: ProbeContext, proc: Any, conn: Any, uses: list[dict[str, Any]]
) -> tuple[str, int | None, int]:
    """(how the canary ended, the index it was at, calls it finished); *uses* receives what
    the observer recorded of each call."""
    # The canary may use at most a quarter of what is left: it protects, it does not measure.
    budget_end = time.monotonic() + ctx.remaining() / 4
    current: int | None = None
    started = completed = 0  # calls the child announced / finished
    call_end = time.monotonic() + ctx.batch_timeout
    while True:
        now = time.monotonic()
        wait = min(call_end, budget_end) - now
        if wait <= 0:
            return ("timeout" if now >= call_end else "budget"), current, completed
        ready = multiprocessing.connection.wait([conn, proc.sentinel], timeout=wait)
        if conn in ready:
            try:
                kind, index = conn.recv()
            except EOFError:
                proc.join(1.0)
                return "died", current, completed
            if kind == "done":
                return "done", current, started
            if kind == "use":
                uses.append(index)
                continue
            completed, started = started, started + 1
            current = index
            call_end = time.monotonic() + ctx.batch_timeout
        elif ready:
            proc.join(1.0)
            return "died", current, completed


# --- the pass ------------------------------------------------------------------------------------


def sequential_pass(
    ctx: ProbeContext, caller: Caller, *, limit: int | None = None
) -> tuple[PassRecord, list[Finding] | None]:
    """One pass over the indices (or *limit* items of a fresh iterator); hang findings if any."""
    rec = PassRecord()
    t0 = time.perf_counter()
    rec.fds.append(fd_count())
    rec.threads.append(threading.active_count())
    if ctx.kind == "sequence":
        steps: Iterator[tuple[int, Callable[[], Any]]] = (
            (i, functools.partial(getitem, ctx.loader, i)) for i in ctx.indices
        )
    else:
        it_box: list[Iterator[Any]] = []

        def make() -> Iterator[Any]:
            return ctx.make_iterator() if ctx.make_iterator is not None else iter(ctx.loader)

        out = caller.call(make, ctx.call_timeout())
        if out is None:
            return rec, failures.hang_finding(ctx, 0, "creating the iterator")
        if out.error is not None:
            r = CallRecord(index=0)
            error_record(r, out, ctx.state.errors)
            rec.calls.append(r)
            return rec, None
        it_box.append(out.value)
        n = ctx.max_batches if limit is None else limit
        steps = ((i, (lambda: next(it_box[0]))) for i in range(n))
    for index, fn in steps:
        if ctx.remaining() <= 0:
            break
        out = caller.call(fn, ctx.call_timeout())
        if out is None:
            return rec, failures.hang_finding(ctx, index, "sequential pass")
        if isinstance(out.error, StopIteration) and ctx.kind == "generator":
            rec.exhausted_after = index
            break
        if _past_the_data(ctx, out.error):
            # No length to trust: the first IndexError is where the data ends (Python's
            # old iteration protocol), so nothing past it is probed (issue 10 item 5).
            del ctx.indices[ctx.indices.index(index) :]
            break
        rec.calls.append(record(index, out, ctx.state.errors, keep=rec))
        rec.fds.append(fd_count())
        rec.threads.append(threading.active_count())
        if out.error is not None and ctx.kind == "generator":
            # A generator that raised is finished: its next next() would only say
            # StopIteration, which is not the generator stopping on its own (item 5).
            break
    rec.wall = time.perf_counter() - t0
    return rec, None


def _past_the_data(ctx: ProbeContext, error: BaseException | None) -> bool:
    """An IndexError from a sequence whose length is unknown (``len()`` raised)."""
    return ctx.kind == "sequence" and ctx.length is None and isinstance(error, IndexError)


def probe_sequential(ctx: ProbeContext) -> list[Finding]:
    """One pass over the loader (after a forked canary): exceptions, IndexError, hangs."""
    findings: list[Finding] = []
    canary = _run_canary(ctx)
    if canary is not None:
        return [canary]
    ctx.state.attrs_before = snapshot(ctx.loader) if ctx.kind == "sequence" else {}
    if ctx.kind == "sequence":
        _keras_peek(ctx)
    ctx.state.attrs_after_first = snapshot(ctx.loader) if ctx.kind == "sequence" else {}
    caller = Caller()
    try:
        # A one-shot iterator has one stream: take only a few items here (structure), and
        # leave the rest to the threads probe, which matters more with worker threads.
        limit = None
        if ctx.kind == "generator" and ctx.make_iterator is None and ctx.threads_planned:
            limit = max(1, min(4, ctx.max_batches // 2))
        rec, hang = sequential_pass(ctx, caller, limit=limit)
        ctx.state.sequential = rec
        if ctx.state.observed is not None:
            ok_here = {c.index for c in rec.calls if c.ok}
            ctx.state.observed = ctx.state.observed.compared_with(ok_here)
        if hang is not None:
            findings += hang
            return findings
        findings += _error_findings(ctx, rec)
        if ctx.kind == "sequence" and not ctx.state.inprocess_unsafe:
            findings += _past_end(ctx, caller)
        if ctx.len_error is not None:
            findings.append(failures.len_error_finding(ctx))
    finally:
        caller.close()
    return findings


def _keras_peek(ctx: ProbeContext) -> None:
    """Call loader[0] and loader[1] on this thread first, as Keras does to infer the output spec.

    Keras 3 runs these two calls on the thread that called fit() and every later call on a
    tf.data or worker thread (docs/failure-modes.md row 1.7 and 8.4), so a resource opened
    lazily by the first call is then used from another thread. Mirroring that order lets the
    sequential pass, which runs on a helper thread, meet the same failure. The calls are made
    only when the forked canary has shown that they return (there is no timeout on this
    thread).
    """
    peek = [i for i in ctx.indices[:2] if i in (0, 1)]
    if ctx.state.canary_completed < len(peek):
        return  # no canary, or it did not get past the peeked indices
    for i in peek:
        try:
            ctx.loader[i]
        except KeyboardInterrupt:
            raise
        except BaseException:  # SystemExit from a loader is a finding, not our exit
            return  # the sequential pass reports it, with its traceback


# --- exceptions ---------------------------------------------------------------------------------


def _strip_numbers(text: str) -> str:
    return "".join("#" if ch.isdigit() else ch for ch in text)


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
        path = ctx.path(first.index)
        also = f" (and {len(idx) - 1} more: {some(idx[1:])})" if len(idx) > 1 else ""
        details = {"indices": idx, "error": first.error, "traceback": first.traceback}
        # Repeating the call costs what it cost (a generator replays the items before it).
        cost = sum(c.seconds for c in rec.calls if c.index <= first.index)
        bound, recheck = _thread_bound(
            ctx, first.index, first.seconds if ctx.kind == "sequence" else cost
        )
        findings += recheck
        if bound:
            findings.append(
                make_finding(
                    "TSG305",
                    path=path,
                    message=(
                        f"{path} raised {one_line(first.error)} when called from another "
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
                        f"{path} raised {one_line(first.error)}{also}, but len(loader) is "
                        f"{ctx.length}: Keras asks for every index below len(), so training "
                        "stops there"
                    ),
                    details=details,
                )
            )
        else:
            findings.append(failures.exception_finding(path, first.error, also, details))
    return findings


def _thread_bound(ctx: ProbeContext, index: int, cost: float) -> tuple[bool, list[Finding]]:
    """Does loader[index], which failed on the helper thread, work on this thread?

    A copy of this process forked from this thread makes the call first (same state, same
    thread identity): only when it returns in time is the call repeated here, where it
    could not be interrupted. When the copy hangs or dies, the findings say so. The call is
    not repeated without fork, nor when repeating it twice (*cost* seconds each) would not
    fit in the budget left: the exception is then reported as it is.
    """
    if threading.get_ident() != ctx.creator_thread:
        return False, []
    if 2 * cost >= ctx.remaining():
        ctx.state.note(
            f"sequential: {ctx.path(index)} raised after {cost:.1f} s; it was not called again "
            "on the thread that created the loader (TSG305), as the time left is too short"
        )
        return False, []
    if ctx.kind != "sequence" and ctx.make_iterator is None:
        return False, []  # a one-shot iterator cannot be replayed
    if "fork" not in multiprocessing.get_all_start_methods() or ctx.state.inprocess_unsafe:
        return False, []
    copy = _call_in_a_copy(ctx, index)
    if copy is None:
        return False, []
    if copy.outcome != "done":
        return False, failures.recheck_findings(ctx, copy, index)
    try:
        # It raised promptly on the helper thread, and returned in a copy of this process,
        # so calling it here is as safe as a call can be. (KeyboardInterrupt is the user's.)
        if ctx.kind == "sequence":
            ctx.loader[index]
        elif ctx.make_iterator is not None:
            it = ctx.make_iterator()
            for _ in range(index + 1):
                next(it)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return False, []
    return True, []


def _call_in_a_copy(ctx: ProbeContext, index: int) -> Worker | None:
    """Make the call (or the index+1 draws) in a child forked from this thread; None when
    the child could not be started."""
    mp_ctx = multiprocessing.get_context("fork")
    if ctx.kind == "sequence":
        copy = make_worker(mp_ctx, "recheck", Payload(ctx.loader), [index])
    else:
        copy = make_worker(mp_ctx, "recheck", Payload(ctx.loader), index + 1, ctx.make_iterator)
    if start([copy], from_thread=False, timeout=ctx.remaining()) is not None:
        abandon([copy])
        return None
    drive(
        [copy],
        start_timeout=ctx.batch_timeout,
        batch_timeout=ctx.batch_timeout,
        deadline=ctx.deadline,
    )
    return copy


# --- past the end ---------------------------------------------------------------------------------


def _past_end(ctx: ProbeContext, caller: Caller) -> list[Finding]:
    """TSG601: loader[len(loader)] returns a non-empty batch that Keras never asks for."""
    n = ctx.length
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
    out = caller.call(lambda: ctx.loader[n], ctx.call_timeout())
    if out is None:
        ctx.state.inprocess_unsafe = f"loader[{n}] (past the end) did not return"
        return []
    if out.error is not None:
        return []
    try:
        info = batch_info(out.value)
    except InvalidBatchError:
        return []
    if info.empty:
        return []
    calls = ctx.state.sequential.calls if ctx.state.sequential is not None else []
    seen = {r for c in calls if c.info is not None for r in c.info.rows}
    if info.rows and all(r in seen for r in info.rows):
        return []  # it wraps around (modulo indexing or a cursor): nothing is left out
    sizes = sorted(c.info.n_rows or 0 for c in calls if c.info is not None)
    full = sizes[len(sizes) // 2] if sizes else 0
    partial = 0 < (info.n_rows or 0) < full
    if partial and _remainder_moves(ctx, n, info.rows):
        # A floor that drops a partial last batch whose samples change every epoch (the
        # loader reshuffles in on_epoch_end) is drop_last by design: every sample is
        # trained on over the epochs.
        return []
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


def _remainder_moves(ctx: ProbeContext, index: int, rows: tuple[bytes, ...]) -> bool:
    """Whether ``loader[index]`` (the batch past the end) holds other samples after
    ``on_epoch_end()``, which runs in a forked child so the caller's loader is untouched."""
    if not callable(getattr(ctx.loader, "on_epoch_end", None)) or not fork_is_safe():
        return False
    mp = multiprocessing.get_context("fork")
    parent_conn, child_conn = mp.Pipe(duplex=False)
    proc = mp.Process(target=_next_epoch_rows, args=(child_conn, ctx.loader, index), daemon=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork of a threaded process
        proc.start()
    child_conn.close()
    try:
        after = parent_conn.recv() if parent_conn.poll(ctx.call_timeout()) else None
    except EOFError:
        after = None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5.0)
        parent_conn.close()
    return after is not None and set(after) != set(rows)


def _next_epoch_rows(conn: Any, loader: Any, index: int) -> None:
    """Child: the row fingerprints of ``loader[index]`` after ``on_epoch_end()``, or None."""
    try:
        loader.on_epoch_end()
        conn.send(batch_info(loader[index]).rows)
    except BaseException:
        conn.send(None)
    finally:
        conn.close()


def _note(ctx: ProbeContext) -> str:
    n = len(ctx.state.sequential.calls) if ctx.state.sequential is not None else 0
    note = f"{n} calls; canary: {ctx.state.canary}"
    if ctx.kind == "generator" and ctx.make_iterator is None:
        note += "; the iterator object was consumed by the check"
    return note


PROBES = (
    Probe(
        "sequential",
        probe_sequential,
        in_process=True,
        records=(
            "sequential",
            "canary",
            "canary_completed",
            "observed",
            "attrs_before",
            "attrs_after_first",
            "inprocess_unsafe",
            "cut_short",
        ),
        note=_note,
    ),
)
