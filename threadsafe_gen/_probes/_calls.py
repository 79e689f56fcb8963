"""In-process calls of the loader, each waited for with a timeout, and what is recorded of them.

A probe never calls the loader on the caller's thread without a bound: :class:`Caller` runs each
call on a daemon helper thread and waits at most the given timeout, so a call that never
returns is abandoned there (Python cannot kill a thread, and a daemon thread does not block
interpreter exit). :func:`record` turns each outcome into a small :class:`CallRecord` at once;
error texts are cut and kept in an :class:`ErrorTexts` book, so a loader that raises a huge
message on every call of a long run costs a bounded amount of memory.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from .._text import one_line
from ._batches import BatchInfo, InvalidBatchError, batch_info
from ._child import ERROR_CHARS, TRACEBACK_CHARS, cut

__all__ = [
    "KEEP_RESULTS_BYTES",
    "CallRecord",
    "Caller",
    "ConcurrentRun",
    "ErrorTexts",
    "Outcome",
    "PassRecord",
    "affordable",
    "call_once",
    "error_record",
    "fd_count",
    "getitem",
    "leaf_arrays",
    "nbytes",
    "record",
]

#: Batches are kept (to see whether a later call changes an earlier result, TSG304) until
#: they add up to this many bytes; a shared buffer shows up in the first few anyway.
KEEP_RESULTS_BYTES = 256 * 2**20

#: Distinct error texts kept whole per check; later new ones keep only their first line.
MAX_DISTINCT_ERRORS = 32


class ErrorTexts:
    """A bounded, thread-safe book of error texts, in which equal texts share one string.

    One per check (``ProbeState.errors``): the hundreds of calls that raise the same
    exception then point at one cut string, and at most :data:`MAX_DISTINCT_ERRORS`
    distinct texts are kept at full (cut) length; later ones keep their first line only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._texts: dict[str, str] = {}

    def keep(self, text: str, limit: int) -> str:
        """*text* cut to *limit* characters, as the one shared copy of that text."""
        short = cut(text, limit)
        with self._lock:
            kept = self._texts.get(short)
            if kept is not None:
                return kept
            if len(self._texts) >= MAX_DISTINCT_ERRORS:
                return one_line(short.partition("\n")[0], 200)
            self._texts[short] = short
            return short


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


@dataclasses.dataclass
class ConcurrentRun:
    """One run of the loader from several threads at once (the threads probe)."""

    calls: list[CallRecord]
    wall: float
    hung: bool
    held_fraction: dict[str, float]
    results: dict[int, Any]
    inflight: list[int]  # indices whose call had not returned when the run ended


class Outcome:
    """What one call gave: its value or exception, and how long it took."""

    __slots__ = ("cpu", "done", "error", "seconds", "tb", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.tb = ""
        self.seconds = 0.0
        self.cpu = 0.0


class Caller:
    """A daemon thread that runs one call at a time; the caller waits with a timeout.

    One thread for a whole pass keeps the thread count flat (the resources probe counts
    threads), and a daemon thread stuck in a hanging call never blocks interpreter exit.
    """

    def __init__(self, name: str = "threadsafe_gen-check") -> None:
        self._requests: queue.SimpleQueue[tuple[Callable[[], Any], Outcome] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
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
            del fn, out, item  # keep no batch or exception alive while waiting for the next

    def call(self, fn: Callable[[], Any], timeout: float) -> Outcome | None:
        """Run *fn* on the helper thread; None if it did not return within *timeout*."""
        out = Outcome()
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


def call_once(
    fn: Callable[[], Any], timeout: float, name: str = "threadsafe_gen-check"
) -> Outcome | None:
    """Run *fn* once on a helper thread; its outcome, or None when it did not return in time.

    For the few calls that would otherwise run on the caller's thread (``len(loader)``,
    pickling the loader, a generator's first item): a hang there must not hang the check.
    """
    caller = Caller(name)
    try:
        return caller.call(fn, timeout)
    finally:
        caller.close()


def fd_count() -> int:
    """Open file descriptors of this process, or -1 where they cannot be counted."""
    for where in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(where))
        except OSError:
            continue
    return -1


def record(
    index: int, out: Outcome, texts: ErrorTexts, *, keep: PassRecord | None = None
) -> CallRecord:
    """A :class:`CallRecord` of *out*; its batch kept in *keep* while under the byte budget,
    its error texts cut and shared through *texts*."""
    rec = CallRecord(index=index, seconds=out.seconds, cpu_seconds=out.cpu)
    if out.error is not None:
        error_record(rec, out, texts)
        return rec
    try:
        rec.info = batch_info(out.value)
    except InvalidBatchError as exc:
        rec.invalid = str(exc)
    if keep is not None and keep.kept_bytes < KEEP_RESULTS_BYTES:
        keep.results[index] = out.value
        keep.kept_bytes += nbytes(out.value)
    return rec


def error_record(rec: CallRecord, out: Outcome, texts: ErrorTexts) -> None:
    """Fill *rec*'s error fields from the exception in *out*, cut and shared."""
    assert out.error is not None
    rec.error_type = type(out.error).__name__
    try:
        text = f"{type(out.error).__name__}: {out.error}"
    except Exception:  # a broken __str__ must not break the check
        text = f"{type(out.error).__name__}: <str() failed>"
    rec.error = texts.keep(text, ERROR_CHARS)
    rec.traceback = texts.keep(out.tb, TRACEBACK_CHARS)


def leaf_arrays(batch: Any) -> list[np.ndarray[Any, Any]]:
    """Every numpy array inside *batch* (tuples, lists and dicts followed)."""
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


def nbytes(batch: Any) -> int:
    """Bytes of the numpy arrays in *batch*."""
    return sum(a.nbytes for a in leaf_arrays(batch))


def getitem(loader: Any, index: int) -> Any:
    """``loader[index]`` (a named function, so partials of it show in tracebacks)."""
    return loader[index]


def affordable(calls: list[CallRecord], remaining: float, *, passes: int) -> list[CallRecord]:
    """The calls a later pass can repeat when *passes* such passes share *remaining* seconds.

    A slow loader (say 100 ms per batch) would spend the whole budget repeating 64 batches;
    an evenly spread subset (the first and last call included) keeps every probe running.
    """
    ok = [c for c in calls if c.ok]
    if not ok:
        return calls
    per_call = max(sorted(c.seconds for c in ok)[len(ok) // 2], 1e-6)
    k = int(remaining / passes / per_call)
    if k >= len(calls):
        return calls
    k = max(k, 4)
    step = (len(calls) - 1) / (k - 1)
    picked = sorted({round(i * step) for i in range(k)})
    return [calls[i] for i in picked]
