"""The parallel engine: run N shards of a generator in worker threads or processes.

Internal (used by ``threadsafe_gen.keras`` and the probes): :func:`parallel_iter` and the
:class:`ParallelIterator` it returns, plus the pieces the Keras adapters reuse in their own
workers (:func:`check_call`, :func:`open_shard`, :func:`reseed_globals`). Who a worker is and
which items it keeps is decided in :mod:`threadsafe_gen._sharding`.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import random
import secrets
import select
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._iterators import GeneratorCall, threadsafe_iter
from ._sharding import (
    WorkerInfo,
    auto_shard,
    derive_seed,
    describe_call,
    set_process_info,
    use_worker_info,
)
from ._text import exit_description, short_repr
from ._watchdog import watch_parent
from .errors import PicklingRefusedError, WorkerError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

__all__ = [
    "ParallelIterator",
    "check_call",
    "open_shard",
    "parallel_iter",
    "reseed_globals",
]

T = TypeVar("T")

# --- the engine ------------------------------------------------------------------------------

# Message kinds sent from a worker to the consumer.
_ITEM, _DONE, _ERROR, _ITEMS = 0, 1, 2, 3

# How often a blocked thread worker re-checks the stop flag, and how long close() waits.
_POLL_S = 0.05
# Most messages read from one worker's pipe per wake-up.
_MAX_READS = 64
_JOIN_S = 2.0


def check_call(call: object) -> None:
    if isinstance(call, GeneratorCall):
        if call.started:
            msg = (
                f"parallel_iter() needs an unstarted call, but {short_repr(call)} was already started "
                "(next() was called on it). Every worker re-creates the call from its "
                "function and arguments, so items already taken would be produced again. "
                "Pass a fresh call, e.g. call.fresh()."
            )
            raise ValueError(msg)
        return
    if isinstance(call, (threadsafe_iter, Iterator)):
        msg = (
            f"parallel_iter() expected an unstarted @threadsafe_generator call or a zero-argument "
            f"callable returning an iterable, got the iterator {short_repr(call)} "
            f"(type={type(call).__name__}). A live iterator cannot be restarted in N workers. "
            "Did you mean to pass the generator function's call, e.g. "
            "threadsafe_generator(gen)(*args)?"
        )
        raise TypeError(msg)
    if not callable(call):
        msg = (
            f"parallel_iter() expected an unstarted @threadsafe_generator call or a zero-argument "
            f"callable returning an iterable, got {short_repr(call)} (type={type(call).__name__})."
        )
        raise TypeError(msg)


def open_shard(call: Any, info: WorkerInfo) -> Iterator[Any]:
    # Runs inside the worker with `info` current. A @threadsafe_generator call is re-created
    # (fresh) and shards itself on start; a plain callable gets the same rule here.
    if isinstance(call, GeneratorCall):
        return iter(call.fresh())
    return auto_shard(call, info)


_END: Any = object()


def step_shard(call: Any, info: WorkerInfo) -> Iterator[Any]:
    """The items of *call*'s shard for worker *info*, with *info* current only during each step.

    For a shard that its consumer may resume on another thread between items (tf.data does):
    worker info is thread-local, so it is set around each step, never across a yield.
    """
    it: Iterator[Any] | None = None
    while True:
        with use_worker_info(info):
            if it is None:
                it = open_shard(call, info)
            item = next(it, _END)
        if item is _END:
            return
        yield item


class _Stopped(Exception):
    """Internal: the consumer closed the iterator; the worker should end quietly."""


def _thread_put(q: queue.Queue[Any], msg: tuple[Any, ...], stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(msg, timeout=_POLL_S)
        except queue.Full:
            continue
        return


def _thread_main(call: Any, info: WorkerInfo, q: queue.Queue[Any], stop: threading.Event) -> None:
    # Module-level and holding no reference to the iterator object, so that dropping the
    # iterator lets it be garbage-collected (and closed) while the threads still run.
    with use_worker_info(info):
        try:
            for item in open_shard(call, info):
                _thread_put(q, (_ITEM, info.id, item), stop)
            _thread_put(q, (_DONE, info.id, None), stop)
        except _Stopped:
            return
        except BaseException as exc:  # reported to the consumer, not lost
            with contextlib.suppress(_Stopped):
                _thread_put(q, (_ERROR, info.id, (exc, traceback.format_exc())), stop)


def reseed_globals(seed: int) -> None:
    # Forked workers share the parent's random state (docs/failure-modes.md row 2d): give each
    # worker its own. numpy's global RNG is seeded only when numpy.random is already imported
    # (importing it costs 18-46 ms of every worker's first item); one imported later starts
    # from fresh OS entropy, so it is distinct per worker too.
    random.seed(seed)
    npr = sys.modules.get("numpy.random")
    if npr is not None:
        npr.seed(seed % 2**32)


def _error_payload(exc: BaseException) -> tuple[bytes | None, str, str]:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    data: bytes | None
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)  # our own bytes; proves the parent can load them
    except Exception:  # fall back to the traceback text
        data = None
    return data, text, f"{type(exc).__name__}: {exc}"


# NOTE [ Batching items between processes ]
# Every message costs the consumer a wake-up and two reads, and the consumer is the serial
# bottleneck when N workers feed it. So a worker sends each item at once while the pipe has
# room (no added latency while the consumer keeps up), and only while the pipe is full (the
# consumer is behind anyway) it gathers up to _BATCH_ITEMS items or _BATCH_BYTES bytes and
# sends them as one message. Items are pickled here, one by one, so a bad item is named.
_BATCH_ITEMS = 64
_BATCH_BYTES = 1 << 18


class _Sender:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pending: list[bytes] = []
        self.size = 0
        self.poller: Any = None
        if hasattr(select, "poll"):
            self.poller = select.poll()
            self.poller.register(conn.fileno(), select.POLLOUT)

    def _room(self) -> bool:
        return self.poller is None or bool(self.poller.poll(0))

    def add(self, data: bytes) -> None:
        self.pending.append(data)
        self.size += len(data)
        if len(self.pending) >= _BATCH_ITEMS or self.size >= _BATCH_BYTES or self._room():
            self.flush()

    def flush(self) -> None:
        if self.pending:
            batch, self.pending, self.size = self.pending, [], 0
            try:
                self.conn.send((_ITEMS, batch))
            except (BrokenPipeError, ConnectionResetError, EOFError):
                raise _Stopped from None  # the consumer closed the iterator


def _process_main(
    conn: Connection, call: Any, info: WorkerInfo, parent_pid: int
) -> None:  # pragma: no cover - runs in the worker process (covered by the engine tests)
    set_process_info(info)
    watch_parent(parent_pid)
    reseed_globals(info.seed)
    sender = _Sender(conn)
    try:
        try:
            it = open_shard(call, info)
            for index, item in enumerate(it):
                try:
                    data = bytes(ForkingPickler.dumps(item))
                except Exception as exc:
                    msg = (
                        f"item #{index} of worker {info.id} could not be sent to the parent "
                        f"process: {type(exc).__name__}: {exc}. Items travel between processes "
                        "by pickling; yield picklable values (numpy arrays, tuples, dicts)."
                    )
                    raise TypeError(msg) from exc
                sender.add(data)
            sender.flush()
        except _Stopped:
            return
        except KeyboardInterrupt:
            # Ctrl-C reaches the whole process group: the parent gets its own
            # KeyboardInterrupt, so do not add a worker traceback to it.
            return
        except BaseException as exc:  # reported to the consumer
            with contextlib.suppress(OSError, _Stopped):
                sender.flush()  # the items made before the error are valid data
                conn.send((_ERROR, _error_payload(exc)))
            return
        with contextlib.suppress(OSError):
            conn.send((_DONE, None))
    finally:
        conn.close()


class ParallelIterator(Generic[T]):
    """Internal: the iterator returned by :func:`parallel_iter`.

    Iterate it once; ``close()`` (also on ``with`` exit and garbage collection) stops and
    reaps every worker. Not thread-safe: consume it from one thread (wrap it in
    ``threadsafe_iter`` to share it).
    """

    def __init__(
        self,
        call: Any,
        *,
        workers: int,
        use_multiprocessing: bool,
        start_method: str | None,
        epoch: int,
        seed: int,
        timeout: float | None,
    ) -> None:
        self._closed = False
        self._close_lock = threading.Lock()
        self._owner_pid = os.getpid()
        self._call_desc = describe_call(call)
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.epoch = epoch
        self.seed = seed
        self._timeout = timeout
        self._buffer: collections.deque[T] = collections.deque()
        self._error: WorkerError | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._q: queue.Queue[Any] = queue.Queue(maxsize=2 * workers)
        self._procs: dict[int, BaseProcess] = {}
        self._conns: dict[int, Connection] = {}
        self._live: set[int] = set(range(workers))
        self.start_method: str | None = None
        infos = [
            WorkerInfo(
                id=i,
                num_workers=workers,
                seed=derive_seed(seed, epoch, i),
                epoch=epoch,
                kind="process" if use_multiprocessing else "thread",
            )
            for i in range(workers)
        ]
        try:
            if use_multiprocessing:
                self._start_processes(call, infos, start_method)
            else:
                self._start_threads(call, infos)
        except BaseException:
            self.close()
            raise

    # -- start ---------------------------------------------------------------------------

    def _start_threads(self, call: Any, infos: list[WorkerInfo]) -> None:
        for info in infos:
            t = threading.Thread(
                target=_thread_main,
                args=(call, info, self._q, self._stop),
                name=f"threadsafe_gen-worker-{info.id}",
                daemon=True,
            )
            self._threads.append(t)
            t.start()

    def _start_processes(
        self, call: Any, infos: list[WorkerInfo], start_method: str | None
    ) -> None:
        ctx: Any = multiprocessing.get_context(start_method)
        self.start_method = ctx.get_start_method()
        if self.start_method != "fork":
            _check_picklable(call, self.start_method)
        for info in infos:
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_process_main,
                args=(writer, call, info, os.getpid()),
                name=f"threadsafe_gen-worker-{info.id}",
                daemon=True,
            )
            self._procs[info.id] = proc
            self._conns[info.id] = reader
            try:
                proc.start()
            finally:
                # Only the child may hold the write end: then its death shows as EOF here.
                writer.close()

    # -- iterate -------------------------------------------------------------------------

    def __iter__(self) -> ParallelIterator[T]:
        return self

    def __next__(self) -> T:
        while not self._buffer:
            if self._error is not None:
                # Sticky, like threadsafe_iter: a failed run never looks like a finished one.
                raise self._error
            if self._closed or not self._live:
                self.close()
                raise StopIteration
            try:
                if self.use_multiprocessing:
                    self._receive_processes()
                else:
                    self._receive_thread()
            except WorkerError as exc:
                self._error = exc
                self.close()
                raise
            except Exception:
                if self._closed:
                    # close() from another thread pulled the pipes away mid-wait.
                    raise StopIteration from None
                self.close()
                raise
            except BaseException:
                self.close()
                raise
        return self._buffer.popleft()

    def _timeout_error(self) -> WorkerError:
        pending = ", ".join(str(w) for w in sorted(self._live))
        msg = (
            f"No item arrived from the workers of {self._call_desc} within timeout="
            f"{self._timeout} s (workers still running: {pending}). A worker is stuck or too "
            "slow: look for a blocking call (network, lock, queue) in the generator, or raise "
            "the timeout. The workers were stopped."
        )
        return WorkerError(msg)

    def _worker_raised(self, wid: int, text: str, cause: BaseException | None) -> WorkerError:
        where = "process" if self.use_multiprocessing else "thread"
        msg = (
            f"Worker {wid} of {self.workers} ({where}) running {self._call_desc} raised "
            f"{text.strip().splitlines()[-1] if text else type(cause).__name__}. "
            "The other workers were stopped; fix the error in the generator (its traceback "
            f"follows).\n\nWorker {wid} traceback:\n{text}"
        )
        err = WorkerError(msg)
        err.__cause__ = cause
        return err

    def _receive_thread(self) -> None:
        try:
            kind, wid, payload = self._q.get(timeout=self._timeout)
        except queue.Empty:
            raise self._timeout_error() from None
        if kind == _ITEM:
            self._buffer.append(payload)
        elif kind == _DONE:
            self._live.discard(wid)
        else:
            exc, text = payload
            raise self._worker_raised(wid, text, exc)

    def _receive_processes(self) -> None:
        conns: dict[Any, int] = {self._conns[w]: w for w in self._live}
        sentinels: dict[Any, int] = {self._procs[w].sentinel: w for w in self._live}
        ready = multiprocessing.connection.wait([*conns, *sentinels], timeout=self._timeout)
        if not ready:
            raise self._timeout_error()
        for obj in ready:
            wid = conns.get(obj)
            if wid is None or wid not in self._live:
                continue
            conn = self._conns[wid]
            # Read what is already there (bounded, so one fast worker cannot starve the
            # others): fewer wait() calls per item.
            for _ in range(_MAX_READS):
                try:
                    kind, payload = conn.recv()
                except EOFError:
                    raise self._died(wid) from None
                if kind == _ITEMS:
                    self._buffer.extend(map(pickle.loads, payload))
                elif kind == _DONE:
                    self._finish(wid)
                    break
                else:
                    data, text, _summary = payload
                    cause = pickle.loads(data) if data is not None else None
                    raise self._worker_raised(wid, text, cause)
                if not conn.poll():
                    break
        for obj in ready:
            wid = sentinels.get(obj)
            if wid is None or wid not in self._live:
                continue
            # The process ended; anything it sent is already in the pipe, so read that first.
            if not self._conns[wid].poll():
                raise self._died(wid)

    def _finish(self, wid: int) -> None:
        self._live.discard(wid)
        self._conns[wid].close()
        proc = self._procs[wid]
        proc.join(_JOIN_S)

    def _died(self, wid: int) -> WorkerError:
        proc = self._procs[wid]
        proc.join(_JOIN_S)
        msg = (
            f"Worker process {wid} of {self.workers} (pid {proc.pid}, start method "
            f"{self.start_method!r}) running {self._call_desc} "
            f"{exit_description(proc.exitcode)} before finishing its shard; its remaining "
            "items are lost, so the run was stopped instead of continuing with missing data. "
            "This happens when the code calls os._exit() or sys.exit() in a worker, is killed "
            "(out of memory?) or crashes in C code. Run with threads (use_multiprocessing=False) "
            "to see the error in-process."
        )
        return WorkerError(msg)

    # -- stop ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop and reap every worker. Safe to call more than once, from any thread.

        A ``next()`` blocked in another thread then ends with StopIteration.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._close()

    def _close(self) -> None:
        if os.getpid() != self._owner_pid:
            # A forked copy of this object (e.g. in a child the user forked): the workers
            # belong to the original process, so leave them alone.
            return
        self._live.clear()
        self._stop.set()
        # Free thread workers blocked on a full queue, then wait briefly for them.
        deadline = time.monotonic() + _JOIN_S
        for t in self._threads:
            while t.is_alive() and time.monotonic() < deadline:
                with contextlib.suppress(queue.Empty):
                    self._q.get_nowait()
                t.join(_POLL_S)
        for conn in self._conns.values():
            conn.close()
        for proc in self._procs.values():
            if proc.pid is None:  # never started
                continue
            if proc.is_alive():
                proc.terminate()
        for proc in self._procs.values():
            if proc.pid is None:
                continue
            proc.join(_JOIN_S)
            if proc.is_alive():  # pragma: no cover - ignored SIGTERM
                proc.kill()
                proc.join()
            proc.close()
        # Wake a consumer blocked in get() on another thread (it then sees _closed).
        with contextlib.suppress(queue.Full):
            self._q.put_nowait((_DONE, -1, None))

    def __enter__(self) -> ParallelIterator[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        kind = f"processes ({self.start_method})" if self.use_multiprocessing else "threads"
        return (
            f"<parallel_iter {self._call_desc} workers={self.workers} {kind} "
            f"epoch={self.epoch} {'closed' if self._closed else 'open'}>"
        )


def _check_picklable(call: Any, start_method: str) -> None:
    try:
        ForkingPickler.dumps(call)
    except PicklingRefusedError:
        raise
    except Exception as exc:
        msg = (
            f"parallel_iter(use_multiprocessing=True) with start method {start_method!r} must "
            f"pickle {describe_call(call)} to send it to each worker, and that failed: "
            f"{type(exc).__name__}: {exc}. Define the generator function at module level "
            "(not inside a function, not a lambda) and pass picklable arguments, or use "
            "start_method='fork' or threads."
        )
        raise TypeError(msg) from exc


def parallel_iter(
    call: Any,
    *,
    workers: int,
    use_multiprocessing: bool = False,
    start_method: str | None = None,
    epoch: int = 0,
    seed: int | None = None,
    timeout: float | None = None,
    processes: bool | None = None,
) -> ParallelIterator[Any]:
    """Internal: run ``workers`` shards of ``call`` in parallel and yield every item once.

    Each worker (a thread, or a process when ``use_multiprocessing=True``) sets its
    :class:`WorkerInfo`, re-creates the call and runs its own shard (see NOTE
    [ Auto-sharding rule ] in ``_sharding``); items flow back to the caller as they are
    produced, so items of different shards interleave in arrival order (within one shard,
    order is kept). Worker processes are daemonic (they die with the parent, and so cannot
    start processes of their own), reseed ``random`` and, if imported, numpy's global RNG
    from their ``WorkerInfo.seed``, and exit by themselves if the parent dies. Thread
    workers leave global RNGs alone.

    Args:
        call: an unstarted ``@threadsafe_generator`` call, or a zero-argument callable
            returning an iterable (picklable for spawn/forkserver: a module-level function,
            ``functools.partial`` of one, or a call of a module-level decorated function).
        workers: number of workers (>= 1).
        use_multiprocessing: processes instead of threads (Keras's name for this choice).
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"`` (processes only); None is
            multiprocessing's default.
        epoch: recorded in each worker's info and mixed into its seed.
        seed: base seed; None draws a random one (``.seed`` on the result tells which).
        timeout: seconds to wait for the next item before raising WorkerError; None waits
            for ever (a worker process that dies is still detected at once).
        processes: deprecated alias of ``use_multiprocessing`` (emits DeprecationWarning).

    Returns:
        A :class:`ParallelIterator`; ``close()`` it (or use ``with``) to stop early.

    Raises:
        WorkerError: while iterating, when a worker raised, died, or timed out.
        TypeError: ``call`` is not a callable/unstarted call, or cannot be pickled for the
            start method; ``processes=`` contradicts ``use_multiprocessing=``.
        ValueError: bad ``workers``, ``start_method`` or ``timeout``, or ``call`` was
            already started.

    >>> sorted(parallel_iter(lambda: range(6), workers=2))
    [0, 1, 2, 3, 4, 5]
    """
    if processes is not None:
        use_multiprocessing = _deprecated_processes(processes, use_multiprocessing)
    _check_options(workers, use_multiprocessing, start_method, timeout)
    check_call(call)
    return ParallelIterator(
        call,
        workers=workers,
        use_multiprocessing=use_multiprocessing,
        start_method=start_method,
        epoch=epoch,
        seed=secrets.randbits(63) if seed is None else seed,
        timeout=timeout,
    )


def _deprecated_processes(processes: bool, use_multiprocessing: bool) -> bool:
    # Issue 9 item 7: Keras's word, use_multiprocessing, everywhere we mirror Keras.
    warnings.warn(
        f"parallel_iter(processes={processes!r}) is deprecated: pass "
        f"use_multiprocessing={processes!r} instead (Keras's name for the same choice). "
        "processes= will be removed in a future release.",
        DeprecationWarning,
        stacklevel=3,
    )
    if use_multiprocessing and not processes:
        msg = (
            "parallel_iter() got use_multiprocessing=True and processes=False, which "
            "contradict each other. Pass only use_multiprocessing= (processes= is its "
            "deprecated alias)."
        )
        raise TypeError(msg)
    return bool(processes)


def _check_options(
    workers: int, use_multiprocessing: bool, start_method: str | None, timeout: float | None
) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        msg = f"parallel_iter() expected workers to be an int >= 1, got workers={workers!r}."
        raise ValueError(msg)
    if start_method is not None:
        if not use_multiprocessing:
            msg = (
                f"parallel_iter() got start_method={start_method!r} with "
                "use_multiprocessing=False; a start method only applies to worker "
                "processes. Pass use_multiprocessing=True."
            )
            raise ValueError(msg)
        methods = multiprocessing.get_all_start_methods()
        if start_method not in methods:
            msg = (
                f"parallel_iter() expected start_method to be one of {methods}, "
                f"got start_method={start_method!r}."
            )
            raise ValueError(msg)
    if timeout is not None and not timeout > 0:
        msg = f"parallel_iter() expected timeout > 0 seconds or None, got timeout={timeout!r}."
        raise ValueError(msg)
