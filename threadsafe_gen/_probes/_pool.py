"""Child processes of the fork and spawn dry runs: start, drive, reap; and the parent's own calls.

A worker is one child process running :func:`~threadsafe_gen._probes._child.worker_main`,
which reports every step through a pipe (``ready``, ``begin``, ``ok``/``error``, ``done``).
:func:`drive` reads those messages until each worker is done, dead, or past its time limit,
so the parent always knows which index a worker was computing when it hung or died. Every
child is reaped (join, terminate, kill); no wait lasts past the check's deadline.

The parent's own calls (:class:`ParentPass`) are what the workers' results are compared
with: Keras computes the first batches in the parent before it starts its pool.
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
import warnings
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from ._child import Payload, exc_info, fingerprint, worker_main

__all__ = [
    "BOOTSTRAP_EXIT",
    "Call",
    "ParentPass",
    "StartTimeout",
    "Worker",
    "abandon",
    "drive",
    "exception_details",
    "exit_if_bootstrapping",
    "finish",
    "make_worker",
    "plan",
    "reap",
    "run_in_parent",
    "run_inline",
    "start",
]

#: Exit code of a spawned child that re-ran an unguarded main script up to check_loader().
BOOTSTRAP_EXIT = 86
#: Extra indices (besides Keras' two peek indices) computed by forked and spawned workers.
EXTRA_INDICES = 3
#: Grace for a child to exit after it said "done", and for terminate/kill to work.
REAP_GRACE = 1.0


class StartTimeout(Exception):
    """Starting a worker took longer than allowed (under spawn: pickling the loader hangs)."""


@dataclasses.dataclass
class Call:
    """The outcome of one call, in the parent or in a worker."""

    index: int
    digest: str | None = None
    error: dict[str, str] | None = None
    seconds: float = 0.0


@dataclasses.dataclass
class Worker:
    """One child process and everything it reported."""

    label: str
    proc: BaseProcess
    conn: multiprocessing.connection.Connection
    conn_w: multiprocessing.connection.Connection  # the child's end, closed after start
    started: float = 0.0
    last: float = 0.0
    ready_at: float | None = None
    load_seconds: float | None = None
    load_error: dict[str, str] | None = None
    calls: dict[int, Call] = dataclasses.field(default_factory=dict)
    current: tuple[int, int] | None = None  # (pos, index) begun and not finished
    outcome: str = "running"  # done | died | timeout | load-error
    exitcode: int | None = None
    limit: float = 0.0  # the per-step limit (seconds) that a timeout exceeded
    budget: bool = False  # the timeout came from the check's deadline, not from a limit

    def digests(self) -> dict[int, str]:
        """Batch digests by position in the worker's call list."""
        return {pos: c.digest for pos, c in self.calls.items() if c.digest is not None}


@dataclasses.dataclass
class ParentPass:
    """The parent's own results for Keras' peek calls (shared by the fork and spawn runs)."""

    calls: list[Call] = dataclasses.field(default_factory=list)
    hung: int | None = None  # index that did not return in time
    died: Worker | None = None  # the preflight child, when the peek kills its process
    inline: bool = False  # computed on the calling thread (else on a helper thread)


def exit_if_bootstrapping() -> None:
    """End a spawned child that is re-running the user's unguarded main script.

    A spawn/forkserver child imports the parent's main script as ``__mp_main__``; without an
    ``if __name__ == "__main__":`` guard it runs check_loader() (and then training) again.
    Keras would hang there (docs/failure-modes.md row 2g'); this child exits with a code the
    parent recognises and reports as a missing guard.
    """
    # multiprocessing sets _inheriting on a spawned child only while it prepares (imports
    # the main module) and unpickles its Process object; parent_process() is still None.
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        os._exit(BOOTSTRAP_EXIT)


def exception_details(err: dict[str, str]) -> dict[str, str]:
    """A worker's exception as finding details: type, message and traceback text."""
    return {
        "exception_type": err["type"],
        "exception_message": err["message"],
        "traceback": err["traceback"],
    }


def reap(proc: BaseProcess, grace: float) -> tuple[int | None, bool]:
    """Join *proc*, escalating to terminate and kill; return (exit code, killed by us)."""
    proc.join(grace)
    killed = proc.is_alive()
    if killed:
        proc.terminate()
        proc.join(1.0)
    if proc.is_alive():
        proc.kill()
        proc.join(1.0)
    code = proc.exitcode
    if not proc.is_alive():
        proc.close()
    return code, killed


def make_worker(
    mp_ctx: Any,
    label: str,
    payload: Payload,
    calls: list[int] | int,
    make_iterator: Callable[[], Any] | None = None,
) -> Worker:
    """A worker (not started yet) that runs *calls* on the loader in *payload*.

    *calls* are indices, or a number of items to draw from ``make_iterator()`` (fork only).
    """
    reader, writer = mp_ctx.Pipe(duplex=False)
    proc = mp_ctx.Process(
        target=worker_main,
        args=(writer, payload, calls, make_iterator, os.getpid()),
        name=f"threadsafe_gen-check-{label}",
        daemon=True,  # like Keras' pool workers; also ends them if we die
    )
    return Worker(label=label, proc=proc, conn=reader, conn_w=writer)


def start(workers: list[Worker], *, from_thread: bool, timeout: float) -> BaseException | None:
    """Start *workers*; from a helper thread when mirroring Keras' enqueuer thread.

    From a helper thread, the wait is bounded: after *timeout* seconds this returns a
    :class:`StartTimeout`, and a worker that the stuck thread starts later (when pickling
    the loader finally returns) is killed at once, so nothing outlives the check.
    """
    error: list[BaseException] = []
    gone = threading.Event()  # the caller stopped waiting

    def run() -> None:
        with warnings.catch_warnings():
            # Python >= 3.12 warns on fork of a multi-threaded process; TSG204 reports it.
            warnings.filterwarnings(
                "ignore", message=r".*multi-threaded.*fork", category=DeprecationWarning
            )
            try:
                for w in workers:
                    w.started = w.last = time.monotonic()
                    w.proc.start()
                    if gone.is_set():
                        _kill_late(w)
            except BaseException as exc:  # a pickling error, from Process.start()
                error.append(exc)
            finally:
                # The parent must not keep the children's write ends open, or a dead
                # child would never show up as EOF on our read end.
                for w in workers:
                    w.conn_w.close()

    if from_thread:
        t = threading.Thread(target=run, name="threadsafe_gen-fork-probe", daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            gone.set()
            return StartTimeout(f"starting the worker processes took more than {timeout:.1f}s")
    else:
        run()
    return error[0] if error else None


def _kill_late(w: Worker) -> None:
    """Kill a worker started after its caller gave up (it may have been reaped already)."""
    try:
        w.proc.kill()
        w.proc.join(5.0)
    except (ValueError, OSError):  # closed by abandon() meanwhile
        pass


def drive(
    workers: list[Worker], *, start_timeout: float, batch_timeout: float, deadline: float
) -> None:
    """Read every worker's messages until each is done, dead or past its time limit."""
    active = [w for w in workers if w.proc.pid is not None]
    by_conn = {id(w.conn): w for w in active}
    while active:
        steps = {id(w): batch_timeout if w.ready_at else start_timeout for w in active}
        limits = {id(w): min(deadline, w.last + steps[id(w)]) for w in active}
        wait = max(0.0, min(limits.values()) - time.monotonic())
        for conn in multiprocessing.connection.wait([w.conn for w in active], timeout=wait):
            w = by_conn[id(conn)]
            try:
                msg = w.conn.recv()
            except (EOFError, OSError):
                w.outcome = "died"
            else:
                _handle(w, msg)
            if w.outcome != "running":
                finish(w)
                active.remove(w)
        now = time.monotonic()
        for w in list(active):
            if now >= limits[id(w)]:
                w.outcome = "timeout"
                w.limit = steps[id(w)]
                w.budget = w.last + steps[id(w)] > deadline
                finish(w, grace=0.0)
                active.remove(w)


def _handle(w: Worker, msg: tuple[Any, ...]) -> None:
    now = time.monotonic()
    w.last = now
    tag = msg[0]
    if tag == "ready":
        w.ready_at = now
        w.load_seconds = float(msg[1])
    elif tag == "begin":
        w.current = (int(msg[1]), int(msg[2]))
    elif tag == "ok":
        w.calls[int(msg[1])] = Call(int(msg[2]), digest=str(msg[3]), seconds=float(msg[4]))
        w.current = None
    elif tag == "error":
        w.calls[int(msg[1])] = Call(int(msg[2]), error=dict(msg[3]))
        w.current = None
    elif tag == "load-error":
        w.load_error = dict(msg[1])
        w.outcome = "load-error"
    elif tag == "done":
        w.outcome = "done"


def finish(w: Worker, grace: float = REAP_GRACE) -> None:
    """Reap *w*'s process and close its pipe; a crash after "done" still counts as died."""
    w.exitcode, killed = reap(w.proc, grace)
    if w.outcome == "done" and w.exitcode not in (0, None) and not killed:
        # It sent all its results, then crashed on the way out. (One we terminated
        # because it was slow to exit, e.g. tearing down TensorFlow, is fine.)
        w.outcome = "died"
    w.conn.close()


def abandon(workers: list[Worker]) -> None:
    """Reap workers that were created but never driven (a start failed half-way)."""
    for w in workers:
        if w.proc.pid is not None and w.outcome == "running":
            w.outcome = "timeout"
            finish(w, grace=0.0)
        elif w.proc.pid is None:
            w.conn.close()


# --- the parent's own calls ----------------------------------------------------------------


def plan(indices: list[int]) -> tuple[list[int], list[int]]:
    """Indices to call: Keras' peek (first index twice, then the second), plus extras."""
    if not indices:
        return [], []
    first = indices[0]
    peek = [first, first, *indices[1:2]]
    rest = [i for i in indices if i not in peek[1:] and i != first]
    extras: list[int] = []
    if rest:
        picks = {0, len(rest) // 2, len(rest) - 1}
        extras = [rest[k] for k in sorted(picks)][:EXTRA_INDICES]
    return peek, extras


def _call(loader: Any, index: int) -> Call:
    t = time.perf_counter()
    try:
        call = Call(index, digest=fingerprint(loader[index]))
    except Exception as exc:
        call = Call(index, error=exc_info(exc))
    call.seconds = time.perf_counter() - t
    return call


def run_inline(loader: Any, indices: list[int]) -> ParentPass:
    """Call ``loader[i]`` for *indices* on this thread (only after a preflight showed they return)."""
    return ParentPass(calls=[_call(loader, i) for i in indices], inline=True)


def _has_more(calls: list[Call], n: int) -> bool:
    return len(calls) > n


def run_in_parent(
    loader: Any, indices: list[int], *, batch_timeout: float, remaining: Callable[[], float]
) -> ParentPass:
    """Call ``loader[i]`` for *indices* in a daemon thread, each within the batch timeout.

    A call that never returns leaves its daemon thread behind (a thread cannot be killed);
    the caller then stops running the loader in this process.
    """
    result = ParentPass()
    cond = threading.Condition()

    def run() -> None:
        for i in indices:
            call = _call(loader, i)
            with cond:
                result.calls.append(call)
                cond.notify()

    t = threading.Thread(target=run, name="threadsafe_gen-parent-calls", daemon=True)
    t.start()
    with cond:
        for n, i in enumerate(indices):
            limit = min(batch_timeout, remaining())
            if not cond.wait_for(functools.partial(_has_more, result.calls, n), timeout=limit):
                result.hung = i
                break
    return result
