"""Process probes of ``check_loader()``: a fork dry run, an inspection and a spawn dry run.

``check_loader()`` runs :data:`PROBES` after its in-process probes, in this order. Each is a
plain ``probe(ctx) -> list[Finding]``:

``fork_dry_run``
    Mirrors Keras: the parent computes the first batches on the calling thread (Keras' spec
    peek; see NOTE [ Peek on the calling thread ]), then two workers are forked *from a
    helper thread* (Keras forks from its enqueuer thread, which is what makes an inherited
    ``sqlite3`` connection fail) and compute the same indices plus a few more; a third worker
    is forked afterwards from the unchanged parent, as Keras rebuilds its pool every epoch.
    Catches TSG203 (raises in a worker, or serves other data there, while the parent is
    fine), TSG501/TSG502 (the same "random" output across workers / epochs where two calls
    in one process differ; a deterministic loader is never flagged), TSG821 (a worker died:
    exit code or signal, and the index) and TSG801 (a batch did not return in time).
``process_inspection``
    No child process (except to measure TSG402). Walks the loader's attributes for OS
    handles (TSG201), raw locks held now or next to live threads (TSG202), RNG objects
    (TSG503), each by its path; counts this process's threads when workers fork (TSG204);
    flags a generator loader that process workers would copy (TSG402), with the duplication
    measured in 2 forked copies. threadsafe_gen's own locks, PerProcess and PerThread objects
    are safe by design and never flagged.
``spawn_dry_run``
    Sends the loader to one child with multiprocessing's own transport (``spawn``, or the
    planned ``forkserver``), even on fork hosts: Python 3.14 makes forkserver the Linux
    default and macOS/Windows use spawn. Catches pickling failures (TSG101/TSG102 unless the
    pickling probe already reported them), a class the child cannot import (TSG102), a main
    script without ``__main__`` guard (TSG102), a loader that unpickles but raises or serves
    other data (TSG104), TSG821/TSG801 in the child, and measures the cost of starting one
    worker (TSG702).

Severity rule. Fork-only problems (TSG201-203, TSG501-502): **error** when the planned
workers are forked processes, **warning** otherwise, because users switch settings and
Python 3.14 changes Linux's default start method. Spawn-only problems (TSG101-104, the
pickling probe's rule): error when the planned workers are spawn/forkserver processes,
warning with fork processes, info with threads. A worker that dies or hangs while running
the loader is an error under any setting. TSG201 is only a warning when the fork dry run
passed (the loader may reopen the handle per process); TSG202 is an error only for a lock
held right now when workers fork; TSG503 is a warning with process workers and info with
threads (one shared RNG is harmless there); TSG204 and TSG702 are info.

Every child is reaped (join, terminate, kill); no probe waits longer than
``ctx.batch_timeout`` for one batch, or past ``ctx.deadline`` (a worker stopped by the
deadline gives TSG802, "incomplete", not a hang). multiprocessing's own helper processes
(the ``resource_tracker`` that ``spawn`` starts and the ``forkserver`` server) stay alive
for the life of this process, as they do when Keras starts workers.
"""

from __future__ import annotations

import _thread
import dataclasses
import functools
import io
import mmap
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sqlite3
import sys
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from typing import Any

from .._findings import REGISTRY, Finding, Severity, make_finding
from . import ProbeContext
from ._child import Payload, exc_info, fingerprint, worker_main
from .pickling import spawn_only_severity

__all__ = ["PROBES", "fork_dry_run", "process_inspection", "spawn_dry_run"]

#: ``ctx.shared`` key under which the parent's own results are cached between probes.
PARENT_KEY = "processes.parent"
#: ``ctx.shared`` key the pickling probe sets when the loader does not pickle (it then
#: reports TSG101/TSG102 with paths), so the spawn dry run does not report it twice.
PICKLING_KEYS = ("unpicklable",)
#: ``ctx.shared`` key check_loader sets when calling the loader in this process is unsafe
#: (a call hung or killed the canary); the probes then call it only in child processes.
INPROCESS_UNSAFE_KEY = "inprocess_unsafe"
#: ``ctx.shared`` key: "clean" when the fork dry run ran and every worker call succeeded
#: with the parent's data, "problems" otherwise (absent when it did not run).
FORK_RESULT_KEY = "processes.fork"
#: ``ctx.shared`` key where these probes leave notes (why something was skipped).
NOTES_KEY = "processes.notes"
#: ``ctx.shared`` key: (code, path) pairs already reported, so a crash seen by the fork dry
#: run is not reported again by the spawn dry run.
REPORTED_KEY = "processes.reported"

_SPAWN_LIKE = ("spawn", "forkserver")
_MAX_WALK_NODES = 20_000
_MAX_WALK_DEPTH = 8
_MAX_CONTAINER_ITEMS = 1_000
#: Extra indices (besides Keras' two peek indices) computed by forked and spawned workers.
_EXTRA_INDICES = 3
#: Under fork, a spawn start cost is reported (as info) only from this many seconds.
_NOTABLE_START_SECONDS = 2.0
#: A spawned worker that has not finished starting after this long (or 3 batch timeouts)
#: is reported as hanging: importing TensorFlow takes 4-15 s on a busy 2-core machine.
_SPAWN_START_LIMIT = 45.0
#: Exit code of a spawned child that re-ran an unguarded main script up to check_loader().
_BOOTSTRAP_EXIT = 86
#: Items drawn per forked copy of a generator loader.
_GENERATOR_DRAWS = 4
#: Grace for a child to exit after it said "done", and for terminate/kill to work.
_REAP_GRACE = 1.0
#: Our own classes that are safe by design (re-created per process/thread, or pickled fresh).
_SAFE_CLASS_NAMES = frozenset(
    {"PerProcess", "PerThread", "Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore"}
    | {"Event"}
)
#: Handle classes recognised by the module they come from (first component) and class name.
_KNOWN_HANDLES: dict[str, frozenset[str]] = {
    "psycopg": frozenset({"Connection", "AsyncConnection", "Cursor", "ServerCursor"}),
    "psycopg2": frozenset({"connection", "cursor"}),
    "pymongo": frozenset({"MongoClient", "Database", "Collection"}),
    "h5py": frozenset({"File", "Group", "Dataset"}),
    "redis": frozenset({"Redis", "StrictRedis", "ConnectionPool"}),
    "lmdb": frozenset({"Environment", "Transaction", "Cursor"}),
    "sqlalchemy": frozenset({"Engine", "Connection", "Session"}),
    "pymysql": frozenset({"Connection"}),
    "MySQLdb": frozenset({"Connection"}),
}


# --------------------------------------------------------------------------- severity


def _fork_planned(ctx: ProbeContext) -> bool:
    return ctx.use_multiprocessing and ctx.start_method == "fork"


def _pickled_planned(ctx: ProbeContext) -> bool:
    return ctx.use_multiprocessing and ctx.start_method in _SPAWN_LIKE


def _sev(planned: bool) -> Severity:
    """Error when the planned setting is affected, warning otherwise (module docstring)."""
    return Severity.ERROR if planned else Severity.WARNING


def _note(ctx: ProbeContext, text: str) -> None:
    ctx.shared.setdefault(NOTES_KEY, []).append(text)


def _exit_if_bootstrapping() -> None:
    """End a spawned child that is re-running the user's unguarded main script.

    A spawn/forkserver child imports the parent's main script as ``__mp_main__``; without an
    ``if __name__ == "__main__":`` guard it runs check_loader() (and then training) again.
    Keras would hang there (docs/failure-modes.md row 2g'); this child exits with a code the parent
    recognises and reports as a missing guard.
    """
    # multiprocessing sets _inheriting on a spawned child only while it prepares (imports
    # the main module) and unpickles its Process object; parent_process() is still None.
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        os._exit(_BOOTSTRAP_EXIT)


def _exception_details(err: dict[str, str]) -> dict[str, str]:
    """A worker's exception as finding details: type, message and traceback text."""
    return {
        "exception_type": err["type"],
        "exception_message": err["message"],
        "traceback": err["traceback"],
    }


def _dedupe(ctx: ProbeContext, findings: list[Finding]) -> list[Finding]:
    """Drop findings whose (code, path) was already reported by these probes."""
    reported: set[tuple[str, str]] = ctx.shared.setdefault(REPORTED_KEY, set())
    kept: list[Finding] = []
    for f in findings:
        if (f.code, f.path) not in reported:
            reported.add((f.code, f.path))
            kept.append(f)
    return kept


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _exit_text(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit code (still running when killed)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name} (exit code {exitcode})"
    return f"exit code {exitcode}"


# --------------------------------------------------------------------------- inspection


@dataclasses.dataclass
class _Walk:
    handles: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    locks: list[tuple[str, Any, bool]] = dataclasses.field(default_factory=list)
    rngs: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    threads: list[tuple[str, threading.Thread]] = dataclasses.field(default_factory=list)
    truncated: bool = False


_LOCK_TYPES: tuple[type, ...] = (_thread.LockType, type(threading.RLock()))
if hasattr(_thread, "RLock"):
    _LOCK_TYPES += (_thread.RLock,)


_SIGNAL_TYPES: tuple[type, ...] = (
    threading.Event,
    threading.Semaphore,
    threading.Barrier,
)


def _is_held(lock: Any) -> bool:
    locked = getattr(lock, "locked", None)
    if callable(locked):  # Lock, and RLock from Python 3.14
        return bool(locked())
    # RLock before 3.14 has no locked(); its repr says "<locked ...>" or "<unlocked ...>".
    return repr(lock).startswith("<locked")


def _handle_kind(obj: Any) -> str | None:
    """A short description when *obj* is an OS handle a forked worker would share."""
    if isinstance(obj, (sqlite3.Connection, sqlite3.Cursor)):
        return "SQLite connection"
    if isinstance(obj, socket.socket):
        return "socket" if obj.fileno() != -1 else None
    if isinstance(obj, mmap.mmap):
        return None if getattr(obj, "closed", False) else "memory map"
    cls = type(obj)
    root = cls.__module__.partition(".")[0]
    if cls.__name__ in _KNOWN_HANDLES.get(root, frozenset()):
        return f"{root} client"
    if isinstance(obj, io.IOBase) and obj.closed:
        return None
    fileno = getattr(cls, "fileno", None)
    if not callable(fileno):
        return None
    try:
        fd = obj.fileno()
    except Exception:  # io.BytesIO and friends: no descriptor
        return None
    if not isinstance(fd, int) or fd < 0 or fd in (0, 1, 2):
        return None
    return "open file" if isinstance(obj, io.IOBase) else "object with a file descriptor"


def _is_rng(obj: Any) -> bool:
    import random

    if isinstance(obj, random.Random) and not isinstance(obj, random.SystemRandom):
        return True
    np = sys.modules.get("numpy")
    if np is None:
        return False
    return isinstance(obj, (np.random.Generator, np.random.RandomState, np.random.BitGenerator))


def _is_ours(obj: Any) -> bool:
    """threadsafe_gen's own objects (locks, PerProcess/PerThread and their slots) are
    re-created per process or thread by design; matched by module, and by class name when
    re-exported through another module."""
    mod = type(obj).__module__
    if mod == "threadsafe_gen" or mod.startswith("threadsafe_gen."):
        return True
    return type(obj).__name__ in _SAFE_CLASS_NAMES and "threadsafe_gen" in mod


def _children(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
    """The attributes and items pickle would follow, with their paths."""
    if isinstance(obj, dict):
        for n, (k, v) in enumerate(obj.items()):
            if n >= _MAX_CONTAINER_ITEMS:
                return
            yield f"{path}[{k!r}]", v
        return
    if isinstance(obj, (list, tuple)):
        for n, v in enumerate(obj[:_MAX_CONTAINER_ITEMS]):
            yield f"{path}[{n}]", v
        return
    if isinstance(obj, (set, frozenset)):
        for v in list(obj)[:_MAX_CONTAINER_ITEMS]:
            yield f"{path}{{{v!r}}}", v
        return
    if isinstance(obj, types.FunctionType) and obj.__closure__:
        # A function stored on the loader carries what it closes over into every worker.
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__, strict=True):
            try:
                yield f"{path}.<closure {name}>", cell.cell_contents
            except ValueError:  # an empty cell
                continue
    if isinstance(obj, functools.partial):
        yield f"{path}.func", obj.func
        for n, arg in enumerate(obj.args):
            yield f"{path}.args[{n}]", arg
        for key, arg in obj.keywords.items():
            yield f"{path}.keywords[{key!r}]", arg
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        attrs = None
    if isinstance(attrs, dict):
        for k, v in list(attrs.items())[:_MAX_CONTAINER_ITEMS]:
            yield f"{path}.{k}", v
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            try:
                yield f"{path}.{name}", object.__getattribute__(obj, name)
            except AttributeError:
                continue


#: Objects from these modules are not walked: multiprocessing's queues and pipes are made
#: to cross processes, logging re-creates its locks in a forked child, and framework graphs
#: (models, tensors) are not the loader's state and can be huge.
_SKIP_MODULES = ("multiprocessing", "logging", "tensorflow", "jax", "torch")

_LEAF_TYPES = (type(None), bool, int, float, complex, str, bytes, bytearray, range, type)


def _walk(root: Any, root_path: str = "loader") -> _Walk:
    """Breadth-first walk of the loader's attribute graph, recording what forks badly."""
    found = _Walk()
    seen: set[int] = set()
    queue: list[tuple[str, Any, int]] = [(root_path, root, 0)]
    np = sys.modules.get("numpy")
    head = 0
    while head < len(queue):
        path, obj, depth = queue[head]
        head += 1
        if id(obj) in seen or isinstance(obj, _LEAF_TYPES):
            continue
        seen.add(id(obj))
        if len(seen) > _MAX_WALK_NODES:
            found.truncated = True
            break
        if np is not None and isinstance(obj, (np.ndarray, np.generic)):
            continue
        if type(obj).__module__.startswith(_SKIP_MODULES):
            continue
        if isinstance(obj, _LOCK_TYPES):
            found.locks.append((path, obj, _is_held(obj)))
            continue
        if isinstance(obj, threading.Condition):
            inner = getattr(obj, "_lock", None)
            found.locks.append((path, obj, inner is not None and _is_held(inner)))
            continue
        if isinstance(obj, _SIGNAL_TYPES):
            continue  # their internal lock is held only for an instant, never across calls
        if isinstance(obj, threading.Thread):
            if obj.is_alive():
                found.threads.append((path, obj))
            continue
        if obj is not root and _is_ours(obj):
            wrapped = getattr(obj, "__wrapped__", None)  # our wrappers hold user objects
            if wrapped is not None and depth < _MAX_WALK_DEPTH:
                queue.append((f"{path}.__wrapped__", wrapped, depth + 1))
            continue
        if _is_rng(obj):
            found.rngs.append((path, obj))
            continue
        kind = _handle_kind(obj)
        if kind is not None:
            found.handles.append((path, obj))
            continue
        if callable(obj) and not hasattr(obj, "__dict__"):
            continue  # builtins, C functions
        mod = type(obj).__module__
        if mod.startswith(_SKIP_MODULES) or type(obj).__name__ == "module":
            continue
        if depth >= _MAX_WALK_DEPTH:
            continue
        for child_path, child in _children(obj, path):
            queue.append((child_path, child, depth + 1))
    return found


def _os_thread_count() -> int:
    """Threads of this process as the kernel sees them (TensorFlow's included)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return threading.active_count()


def _other_python_threads() -> list[threading.Thread]:
    """Live Python threads besides this one and the main thread, not counting the check's
    own helper threads (named ``threadsafe_gen-*``; a call that hung is reported already).

    Threads that native code started and Python only registered when they called into it
    (``threading._DummyThread``, e.g. TensorFlow's tf.data threads) are left out too: before
    Python 3.13 they stay in ``threading.enumerate()`` as alive after the OS thread ended, so
    after any Keras training they would be named here for good. The OS thread count
    (TSG204) still counts the ones that run.
    """
    me = threading.current_thread()
    main = threading.main_thread()
    return [
        t
        for t in threading.enumerate()
        if t is not me
        and t is not main
        and t.is_alive()
        and not isinstance(t, threading._DummyThread)
        and not t.name.startswith("threadsafe_gen-")
    ]


def process_inspection(ctx: ProbeContext) -> list[Finding]:
    """Inspect the loader and this process for what process workers would copy or share.

    TSG201 handles, TSG202 raw locks held now or next to live threads, TSG204 a
    multi-threaded process about to fork, TSG503 RNG objects, TSG402 a generator loader
    copied into every worker process. No child process except for TSG402's measurement.
    """
    _exit_if_bootstrapping()
    findings: list[Finding] = []
    if ctx.kind == "generator":
        findings += _generator_copies(ctx)
    else:
        findings += _tf_keras_epoch_stall(ctx)
    walk = _walk(ctx.loader)
    if walk.truncated:
        _note(ctx, f"process_inspection: stopped after {_MAX_WALK_NODES} objects")
    fork_planned = _fork_planned(ctx)
    # The fork dry run runs first: when it saw no problem, the loader may already reopen the
    # handle per process, so the inherited handle is reported as a risk, not an error.
    fork_clean = ctx.shared.get(FORK_RESULT_KEY) == "clean"
    for path, obj in walk.handles:
        kind = _handle_kind(obj) or "handle"
        passed = (
            "; the fork dry run passed, so the loader may already reopen it per process "
            "(then suppress this code)"
            if fork_clean
            else ""
        )
        findings.append(
            make_finding(
                "TSG201",
                path=path,
                severity=_sev(fork_planned and not fork_clean),
                message=(
                    f"{path} ({_type_name(obj)}) is a {kind} opened in this process. Forked "
                    "workers inherit it and share one file offset, stream or database "
                    "session with the parent and each other, which gives wrong rows, "
                    "interleaved replies or protocol errors; spawned workers cannot "
                    f"receive most handles at all{passed}"
                ),
                hint=(
                    "Open it lazily in each worker process: make it a class attribute "
                    "`threadsafe_gen.per_process(factory)` (keyed by pid), or reopen it when "
                    "os.getpid() changes; drop it in __getstate__ for spawn."
                ),
                details={"type": _type_name(obj), "kind": kind},
            )
        )
    others = _other_python_threads()
    thread_names = sorted(t.name for t in others) + sorted(p for p, _ in walk.threads)
    for path, lock, held in walk.locks:
        if not held and not others and not walk.threads:
            continue  # an idle lock in a single-threaded process forks fine
        state = "is held right now" if held else "is not held right now"
        findings.append(
            make_finding(
                "TSG202",
                path=path,
                severity=_sev(fork_planned and held),
                message=(
                    f"{path} ({_type_name(lock)}) {state}, and this process runs "
                    f"{len(thread_names)} other Python thread(s) ({_short(', '.join(thread_names), 120)}). "
                    "fork copies a lock in its current state but not the thread holding it: "
                    "a worker forked while it is held waits for it forever"
                ),
                details={"held": held, "threads": thread_names},
            )
        )
    if fork_planned:
        n_os = _os_thread_count()
        if n_os > 1:
            findings.append(
                make_finding(
                    "TSG204",
                    path="process",
                    message=(
                        f"This process has {n_os} threads ({len(others) + 1} of them Python "
                        "threads) and the workers are forked from it: a fork of a "
                        "multi-threaded process can deadlock in the child if another thread "
                        "holds a lock (in malloc, logging or a library). Python >= 3.12 warns "
                        "about it with a DeprecationWarning that the default filters hide"
                    ),
                    details={
                        "os_threads": n_os,
                        "python_threads": [
                            threading.main_thread().name,
                            *sorted(t.name for t in others),
                        ],
                        "python": sys.version.split()[0],
                    },
                )
            )
    rng_sev = Severity.WARNING if ctx.use_multiprocessing else Severity.INFO
    for path, rng in walk.rngs:
        findings.append(
            make_finding(
                "TSG503",
                path=path,
                severity=rng_sev,
                message=(
                    f"{path} ({_type_name(rng)}) is an RNG stored on the loader. Forking "
                    "or pickling copies it with its state into every worker, so the "
                    "workers draw the same numbers (measured: 16 of 64 augmentations "
                    "distinct with 4 forked workers), and every epoch repeats them"
                ),
                details={"type": _type_name(rng)},
            )
        )
    return findings


# --------------------------------------------------------------------------- workers


@dataclasses.dataclass
class _Call:
    """The outcome of one call, in the parent or in a worker."""

    index: int
    digest: str | None = None
    error: dict[str, str] | None = None
    seconds: float = 0.0


@dataclasses.dataclass
class _Worker:
    label: str
    proc: BaseProcess
    conn: multiprocessing.connection.Connection
    conn_w: multiprocessing.connection.Connection  # the child's end, closed after start
    started: float = 0.0
    last: float = 0.0
    ready_at: float | None = None
    load_seconds: float | None = None
    load_error: dict[str, str] | None = None
    calls: dict[int, _Call] = dataclasses.field(default_factory=dict)
    current: tuple[int, int] | None = None  # (pos, index) begun and not finished
    outcome: str = "running"  # done | died | timeout | load-error
    exitcode: int | None = None
    limit: float = 0.0  # the per-step limit (seconds) that a timeout exceeded
    budget: bool = False  # the timeout came from the check's deadline, not from a limit

    def digests(self) -> dict[int, str]:
        return {pos: c.digest for pos, c in self.calls.items() if c.digest is not None}


def _reap(proc: BaseProcess, grace: float) -> tuple[int | None, bool]:
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


def _make_worker(mp_ctx: Any, label: str, payload: Payload, calls: list[int] | int) -> _Worker:
    reader, writer = mp_ctx.Pipe(duplex=False)
    proc = mp_ctx.Process(
        target=worker_main,
        args=(writer, payload, calls),
        name=f"threadsafe_gen-check-{label}",
        daemon=True,  # like Keras' pool workers; also ends them if we die
    )
    return _Worker(label=label, proc=proc, conn=reader, conn_w=writer)


def _start(workers: list[_Worker], *, from_thread: bool, timeout: float) -> BaseException | None:
    """Start *workers*; from a helper thread when mirroring Keras' enqueuer thread."""
    error: list[BaseException] = []

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
            return TimeoutError(f"starting the worker processes took more than {timeout:.1f}s")
    else:
        run()
    return error[0] if error else None


def _drive(
    workers: list[_Worker], *, start_timeout: float, batch_timeout: float, deadline: float
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
                _finish(w)
                active.remove(w)
        now = time.monotonic()
        for w in list(active):
            if now >= limits[id(w)]:
                w.outcome = "timeout"
                w.limit = steps[id(w)]
                w.budget = w.last + steps[id(w)] > deadline
                _finish(w, grace=0.0)
                active.remove(w)


def _handle(w: _Worker, msg: tuple[Any, ...]) -> None:
    now = time.monotonic()
    w.last = now
    tag = msg[0]
    if tag == "ready":
        w.ready_at = now
        w.load_seconds = float(msg[1])
    elif tag == "begin":
        w.current = (int(msg[1]), int(msg[2]))
    elif tag == "ok":
        w.calls[int(msg[1])] = _Call(int(msg[2]), digest=str(msg[3]), seconds=float(msg[4]))
        w.current = None
    elif tag == "error":
        w.calls[int(msg[1])] = _Call(int(msg[2]), error=dict(msg[3]))
        w.current = None
    elif tag == "load-error":
        w.load_error = dict(msg[1])
        w.outcome = "load-error"
    elif tag == "done":
        w.outcome = "done"


def _finish(w: _Worker, grace: float = _REAP_GRACE) -> None:
    w.exitcode, killed = _reap(w.proc, grace)
    if w.outcome == "done" and w.exitcode not in (0, None) and not killed:
        # It sent all its results, then crashed on the way out. (One we terminated
        # because it was slow to exit, e.g. tearing down TensorFlow, is fine.)
        w.outcome = "died"
    w.conn.close()


def _abandon(workers: list[_Worker]) -> None:
    """Reap workers that were created but never driven (a start failed half-way)."""
    for w in workers:
        if w.proc.pid is not None and w.outcome == "running":
            w.outcome = "timeout"
            _finish(w, grace=0.0)
        elif w.proc.pid is None:
            w.conn.close()


def _death_findings(ctx: ProbeContext, workers: list[_Worker], where: str) -> list[Finding]:
    """TSG821 / TSG801 for workers that died or did not answer in time."""
    findings: list[Finding] = []
    for w in workers:
        if w.outcome not in ("died", "timeout"):
            continue
        if w.current is not None:
            _pos, index = w.current
            path = f"loader[{index}]"
            during = f"while computing index {index}"
        elif w.ready_at is None:
            index, path = -1, "loader"
            during = "before it could run the loader (starting up, or unpickling the loader)"
        else:
            index, path = -1, "loader"
            during = "after its last batch, while exiting"
        method = "fork" if where == "forked" else where
        details = {"worker": w.label, "start_method": method, "index": index}
        if w.outcome == "died":
            details["exitcode"] = w.exitcode
            findings.append(
                make_finding(
                    "TSG821",
                    path=path,
                    message=(
                        f"A {where} worker process died {during}: {_exit_text(w.exitcode)}. "
                        "multiprocessing.Pool replaces a dead worker silently and loses its "
                        "batch, so Keras then waits for it forever"
                    ),
                    details=details,
                )
            )
        elif w.budget:
            findings.append(
                make_finding(
                    "TSG802",
                    path=f"{where} dry run",
                    message=(
                        f"The check's time budget ran out while a {where} worker was still "
                        f"busy {during}; it was stopped, so this dry run is incomplete"
                    ),
                    details=details,
                )
            )
        else:
            details["limit_seconds"] = w.limit
            findings.append(
                make_finding(
                    "TSG801",
                    path=path,
                    message=(
                        f"A {where} worker did not answer {during} within {w.limit:.1f}s; it "
                        "was killed. Keras has no per-batch timeout, so fit() would hang here"
                    ),
                    details=details,
                )
            )
    return findings


# --------------------------------------------------------------------------- parent pass


@dataclasses.dataclass
class _ParentPass:
    calls: list[_Call] = dataclasses.field(default_factory=list)
    hung: int | None = None  # index that did not return in time
    died: _Worker | None = None  # the preflight child, when the peek kills its process
    inline: bool = False  # computed on the calling thread (else on a helper thread)


def _call(loader: Any, index: int) -> _Call:
    t = time.perf_counter()
    try:
        call = _Call(index, digest=fingerprint(loader[index]))
    except Exception as exc:
        call = _Call(index, error=exc_info(exc))
    call.seconds = time.perf_counter() - t
    return call


def _run_inline(ctx: ProbeContext, indices: list[int]) -> _ParentPass:
    return _ParentPass(calls=[_call(ctx.loader, i) for i in indices], inline=True)


def _has_more(calls: list[_Call], n: int) -> bool:
    return len(calls) > n


def _run_in_parent(ctx: ProbeContext, indices: list[int]) -> _ParentPass:
    """Call ``loader[i]`` for *indices* in a daemon thread, each within the batch timeout.

    A call that never returns leaves its daemon thread behind (a thread cannot be killed);
    the caller then stops running the loader in this process.
    """
    result = _ParentPass()
    cond = threading.Condition()

    def run() -> None:
        for i in indices:
            call = _call(ctx.loader, i)
            with cond:
                result.calls.append(call)
                cond.notify()

    t = threading.Thread(target=run, name="threadsafe_gen-parent-calls", daemon=True)
    t.start()
    with cond:
        for n, i in enumerate(indices):
            limit = min(ctx.batch_timeout, ctx.remaining())
            if not cond.wait_for(functools.partial(_has_more, result.calls, n), timeout=limit):
                result.hung = i
                break
    return result


def _plan(ctx: ProbeContext) -> tuple[list[int], list[int]]:
    """Indices to call: Keras' peek (first index twice, then the second), plus extras."""
    if not ctx.indices:
        return [], []
    first = ctx.indices[0]
    peek = [first, first, *ctx.indices[1:2]]
    rest = [i for i in ctx.indices if i not in peek[1:] and i != first]
    extras: list[int] = []
    if rest:
        picks = {0, len(rest) // 2, len(rest) - 1}
        extras = [rest[k] for k in sorted(picks)][:_EXTRA_INDICES]
    return peek, extras


def _parent(ctx: ProbeContext) -> _ParentPass:
    """The parent's own results for Keras' peek calls, cached in ``ctx.shared``.

    # NOTE [ Peek on the calling thread ]
    Keras computes the first batches on the thread that built the loader, then forks its
    workers from another thread; an inherited sqlite3 connection fails only because of
    that difference (docs/failure-modes.md row 2b). So the peek must run on the calling thread, where
    a hang could not be interrupted. A child forked from this thread runs the peek first:
    it has the same state and thread identity, so when it finishes in time the real peek
    will too. When it hangs (for example on a lock another thread held at fork), the peek
    runs on a helper thread with a timeout instead; when it dies, the peek would kill this
    process too and is not run here at all.
    """
    cached = ctx.shared.get(PARENT_KEY)
    if isinstance(cached, _ParentPass):
        return cached
    if ctx.shared.get(INPROCESS_UNSAFE_KEY):
        # check_loader already saw the loader hang or kill its process: do not call it
        # here again; the workers still run, in children that can be killed.
        _note(ctx, f"parent calls skipped: {ctx.shared[INPROCESS_UNSAFE_KEY]}")
        ctx.shared[PARENT_KEY] = _ParentPass()
        return ctx.shared[PARENT_KEY]  # type: ignore[no-any-return]
    peek, _ = _plan(ctx)
    result: _ParentPass | None = None
    if "fork" in multiprocessing.get_all_start_methods():
        pre = _make_worker(
            multiprocessing.get_context("fork"), "preflight", Payload(ctx.loader), peek
        )
        if _start([pre], from_thread=False, timeout=ctx.remaining()) is None:
            _drive(
                [pre],
                start_timeout=ctx.batch_timeout,
                batch_timeout=ctx.batch_timeout,
                deadline=ctx.deadline,
            )
            if pre.outcome == "died":
                result = _ParentPass(died=pre)
            elif pre.outcome == "done":
                result = _run_inline(ctx, peek)
        else:
            _abandon([pre])
    if result is None:
        result = _run_in_parent(ctx, peek)
    ctx.shared[PARENT_KEY] = result
    return result


def _parent_findings(ctx: ProbeContext, parent: _ParentPass, probe: str) -> list[Finding]:
    """TSG801/TSG821 when the peek itself hangs or kills the process; [] otherwise."""
    if parent.died is not None:
        w = parent.died
        index = w.current[1] if w.current else -1
        _note(ctx, f"{probe}: skipped, loader[{index}] kills the process that computes it")
        return [
            make_finding(
                "TSG821",
                path=f"loader[{index}]",
                message=(
                    f"loader[{index}] killed the (forked copy of this) process computing it: "
                    f"{_exit_text(w.exitcode)}. Keras computes the first two batches in the "
                    "training process itself, so fit() would die with it"
                ),
                details={"index": index, "where": "parent", "exitcode": w.exitcode},
            )
        ]
    if parent.hung is None:
        return []
    index = parent.hung
    _note(ctx, f"{probe}: skipped, loader[{index}] did not return in this process")
    return [
        make_finding(
            "TSG801",
            path=f"loader[{index}]",
            message=(
                f"loader[{index}] did not return within {ctx.batch_timeout:.1f}s in this "
                "process, before any worker was started (Keras computes the first two "
                "batches in the parent too), so fit() would hang here"
            ),
            details={"index": index, "where": "parent"},
        )
    ]


# --------------------------------------------------------------------------- fork


def _random_in_process(w: _Worker) -> bool | None:
    """Did two calls of the same index differ inside one worker? None when unknown."""
    d = w.digests()
    if 0 not in d or 1 not in d:
        return None
    return d[0] != d[1]


def _identical(a: _Worker, b: _Worker) -> tuple[int, int]:
    """(identical, compared) batch digests at the same positions of two workers."""
    da, db = a.digests(), b.digests()
    common = sorted(set(da) & set(db))
    return sum(da[p] == db[p] for p in common), len(common)


def fork_dry_run(ctx: ProbeContext) -> list[Finding]:
    """Compute batches in forked workers, as Keras does, and compare with the parent.

    Skipped for generator loaders (see ``process_inspection``), where fork is not
    available, and when no budget is left.
    """
    _exit_if_bootstrapping()
    if ctx.kind != "sequence" or not ctx.indices:
        return []
    if "fork" not in multiprocessing.get_all_start_methods():
        _note(ctx, "fork_dry_run: skipped, fork is not available on this platform")
        return []
    parent = _parent(ctx)
    stop = _parent_findings(ctx, parent, "fork_dry_run")
    if stop:
        return _dedupe(ctx, stop)
    peek, extras = _plan(ctx)
    mp_ctx = multiprocessing.get_context("fork")
    payload = Payload(ctx.loader)
    # Two workers of "epoch 1", forked together from a non-main thread like Keras' pool.
    pair = [_make_worker(mp_ctx, f"fork-{k}", payload, peek + extras) for k in (1, 2)]
    error = _start(pair, from_thread=True, timeout=max(1.0, min(30.0, ctx.remaining())))
    if error is not None:
        _abandon(pair)
        _note(ctx, f"fork_dry_run: could not start workers: {error!r}")
        return []
    _drive(
        pair,
        start_timeout=ctx.batch_timeout,
        batch_timeout=ctx.batch_timeout,
        deadline=ctx.deadline,
    )
    workers = list(pair)
    # "Epoch 2": Keras forks a new pool from the unchanged parent.
    if all(w.outcome == "done" for w in pair) and ctx.remaining() > 0:
        later = [_make_worker(mp_ctx, "fork-epoch2", payload, peek)]
        if _start(later, from_thread=True, timeout=max(1.0, min(30.0, ctx.remaining()))):
            _abandon(later)
        else:
            _drive(
                later,
                start_timeout=ctx.batch_timeout,
                batch_timeout=ctx.batch_timeout,
                deadline=ctx.deadline,
            )
            workers += later
    # The parent computes the extra indices only now, after forking, as Keras' parent
    # never computes them before its pool exists.
    # Only indices every forked copy finished are called here (see NOTE [ Peek on the
    # calling thread ]): one that killed or hung a worker would do the same to us.
    finished = [{c.index for c in w.calls.values()} for w in pair]
    safe = [i for i in extras if all(i in f for f in finished)]
    parent_calls = list(parent.calls)
    if safe and parent.inline and ctx.remaining() > 0:
        parent_calls += _run_inline(ctx, safe).calls
    findings = _explain_fork_hangs(ctx, _death_findings(ctx, workers, "forked"))
    findings += _fork_failures(ctx, workers, parent_calls)
    if not parent_calls:  # the loader was not called here: report worker errors as such
        findings += _worker_errors(workers)
    failed_calls = any(c.error for w in workers for c in w.calls.values())
    clean = not findings and not failed_calls and all(w.outcome == "done" for w in workers)
    ctx.shared[FORK_RESULT_KEY] = "clean" if clean else "problems"
    if _parent_random(parent_calls) is not False:
        findings += _fork_randomness(ctx, workers)
    return _dedupe(ctx, findings)


def _fork_failures(
    ctx: ProbeContext, workers: list[_Worker], parent_calls: list[_Call]
) -> list[Finding]:
    """TSG203: indices that work in the parent and raise in a forked worker (one finding)."""
    ok_in_parent = {c.index for c in parent_calls if c.error is None}
    first: tuple[_Worker, _Call] | None = None
    failed: set[int] = set()
    for w in workers:
        for pos in sorted(w.calls):
            call = w.calls[pos]
            if call.error is not None and call.index in ok_in_parent:
                failed.add(call.index)
                if first is None:
                    first = (w, call)
    if first is None:
        return _fork_differences(ctx, workers, parent_calls)
    w, call = first
    err = call.error or {}
    return [
        make_finding(
            "TSG203",
            path=f"loader[{call.index}]",
            severity=_sev(_fork_planned(ctx)),
            message=(
                f"loader[{call.index}] works in this process, but in a forked worker it "
                f"raised {err['type']} ({_short(err['message'])}); "
                f"{len(failed)} of {len(ok_in_parent)} indices that work here failed in the "
                f"workers ({sorted(failed)}). Keras computes the first batches in the parent "
                "before it forks, so whatever the loader opened then is inherited by workers "
                "running on another thread and process"
            ),
            details={
                "index": call.index,
                "worker": w.label,
                **_exception_details(err),
                "failed_indices": sorted(failed),
            },
        )
    ]


def _explain_fork_hangs(ctx: ProbeContext, findings: list[Finding]) -> list[Finding]:
    """Name the likely cause of a forked worker's hang: a raw lock next to live threads."""
    if not any(f.code == "TSG801" for f in findings):
        return findings
    walk = _walk(ctx.loader)
    threads = [t.name for t in _other_python_threads()] + [p for p, _ in walk.threads]
    if not walk.locks or not threads:
        return findings
    lock_path = walk.locks[0][0]
    why = (
        f" {lock_path} is a raw threading lock and {len(threads)} other thread(s) run in "
        f"this process ({_short(', '.join(sorted(threads)), 80)}): a lock that another thread "
        "holds at fork time stays held forever in the worker (TSG202)"
    )
    out: list[Finding] = []
    for f in findings:
        if f.code == "TSG801":
            f = dataclasses.replace(
                f,
                message=f.message.replace(". (TSG801,", f".{why}. (TSG801,", 1),
                hint=REGISTRY["TSG202"].fix,
                details={**f.details, "lock": lock_path, "threads": sorted(threads)},
            )
        out.append(f)
    return out


def _parent_random(calls: list[_Call]) -> bool | None:
    """Did repeated calls of one index differ in the parent? None when nothing repeated.

    A loader that repeats itself in the parent is not random, so a difference inside a
    worker comes from the fork (TSG203), not from an RNG (TSG501).
    """
    seen: dict[int, set[str]] = {}
    for c in calls:
        if c.digest is not None:
            seen.setdefault(c.index, set()).add(c.digest)
    repeated = [d for i, d in seen.items() if sum(x.index == i for x in calls) > 1]
    if not repeated:
        return None
    return any(len(d) > 1 for d in repeated)


def _worker_errors(workers: list[_Worker]) -> list[Finding]:
    """TSG822 for exceptions in workers when there is no parent result to compare with."""
    errors = [(w, c) for w in workers for c in w.calls.values() if c.error is not None]
    if not errors:
        return []
    w, call = errors[0]
    err = call.error or {}
    indices = sorted({c.index for _, c in errors})
    return [
        make_finding(
            "TSG822",
            path=f"loader[{call.index}]",
            message=(
                f"loader[{call.index}] raised {err['type']} ({_short(err['message'])}) in a "
                f"worker process (indices that raised: {indices}); it was not called in this "
                "process, which check_loader found unsafe"
            ),
            details={
                "index": call.index,
                "worker": w.label,
                **_exception_details(err),
                "failed_indices": indices,
            },
        )
    ]


def _fork_differences(
    ctx: ProbeContext, workers: list[_Worker], parent_calls: list[_Call]
) -> list[Finding]:
    """TSG203: a deterministic loader that serves other data in forked workers.

    Deterministic means two calls of the same index agree in the parent and in every
    worker; then any worker batch that differs from the parent's batch for that index comes
    from something the processes share, such as one kernel file offset (docs/failure-modes.md row 2b'').
    """
    mine: dict[int, set[str]] = {}
    for c in parent_calls:
        if c.digest is not None:
            mine.setdefault(c.index, set()).add(c.digest)
    if not mine or any(len(d) > 1 for d in mine.values()):
        return []  # random (or stateful) in the parent: see _fork_randomness
    wrong: list[tuple[_Worker, _Call]] = []
    compared = 0
    for w in workers:
        for call in w.calls.values():
            expected = mine.get(call.index)
            if expected is None or call.digest is None:
                continue
            compared += 1
            if call.digest not in expected:
                wrong.append((w, call))
    if not wrong:
        return []
    w, call = wrong[0]
    indices = sorted({c.index for _, c in wrong})
    return [
        make_finding(
            "TSG203",
            path=f"loader[{call.index}]",
            severity=_sev(_fork_planned(ctx)),
            message=(
                f"loader[{call.index}] returns the same data on every call in this process, "
                f"but forked workers returned other data for {len(wrong)} of {compared} "
                f"batches (indices {indices}): the workers share something with the parent "
                "or each other, such as one file offset or one connection's stream, and "
                "train on wrong rows without any error"
            ),
            details={
                "index": call.index,
                "worker": w.label,
                "different": len(wrong),
                "compared": compared,
                "indices": indices,
            },
        )
    ]


def _fork_randomness(ctx: ProbeContext, workers: list[_Worker]) -> list[Finding]:
    """TSG501 / TSG502 from the digests of the forked workers."""
    done = [w for w in workers if w.outcome == "done"]
    pair = [w for w in done if w.label in ("fork-1", "fork-2")]
    later = [w for w in done if w.label == "fork-epoch2"]
    random_seen = any(_random_in_process(w) for w in done)
    if not random_seen:
        return []  # deterministic (or unknown): identical results are correct
    sev = _sev(_fork_planned(ctx))
    findings: list[Finding] = []
    if len(pair) == 2:
        same, total = _identical(pair[0], pair[1])
        if same:
            findings.append(
                make_finding(
                    "TSG501",
                    path="loader",
                    severity=sev,
                    message=(
                        f"Two calls of loader[{ctx.indices[0]}] in one process give different "
                        f"data, yet 2 forked workers returned identical data for {same} of "
                        f"{total} batches: the random state (numpy's global RNG or an RNG "
                        "on the loader) is copied into every forked worker, so the workers "
                        "replay the same augmentations and the model sees duplicates"
                    ),
                    details={"identical": same, "compared": total, "workers": 2},
                )
            )
    if later and pair:
        same, total = max(_identical(later[0], w) for w in pair)
        if same:
            findings.append(
                make_finding(
                    "TSG502",
                    path="loader",
                    severity=sev,
                    message=(
                        f"A worker forked later from the unchanged parent (Keras forks a new "
                        f"pool every epoch) returned the same 'random' data as a worker of "
                        f"the first pool for {same} of {total} batches: every epoch repeats "
                        "the previous epoch's augmentations"
                    ),
                    details={"identical": same, "compared": total},
                )
            )
    return findings


# --------------------------------------------------------------------------- spawn


def _pickling_reported(ctx: ProbeContext) -> bool:
    return any(k in ctx.shared for k in PICKLING_KEYS)


def _is_import_problem(err_type: str, message: str) -> bool:
    return (
        "<locals>" in message
        or "Can't get attribute" in message
        or "attribute lookup" in message
        or "local object" in message
        or err_type in ("ModuleNotFoundError", "ImportError")
    )


def spawn_dry_run(ctx: ProbeContext) -> list[Finding]:
    """Send the loader to a spawned (or forkserver) child, compute 2 batches, time it.

    Runs even on fork hosts (as warnings), because macOS and Windows use spawn and Linux
    uses forkserver from Python 3.14.
    """
    _exit_if_bootstrapping()
    if ctx.kind != "sequence" or not ctx.indices:
        return []
    method = ctx.start_method if ctx.start_method in _SPAWN_LIKE else "spawn"
    if method not in multiprocessing.get_all_start_methods():
        _note(ctx, f"spawn_dry_run: skipped, {method} is not available on this platform")
        return []
    parent = _parent(ctx)
    stop = _parent_findings(ctx, parent, "spawn_dry_run")
    if stop:
        return _dedupe(ctx, stop)
    sev = spawn_only_severity(ctx)
    if _pickled_planned(ctx):
        elsewhere = ""
    elif ctx.use_multiprocessing:
        elsewhere = f" (workers fork here; {method} is used on macOS, Windows, and on Linux from Python 3.14)"
    else:
        elsewhere = f" (workers are threads here; this matters once they are {method} processes)"
    peek, extras = _plan(ctx)
    calls = peek[1:] + extras[:1]  # the first index once, the second, one more
    mp_ctx = multiprocessing.get_context(method)
    worker = _make_worker(mp_ctx, method, Payload(ctx.loader), calls)
    t0 = time.monotonic()
    error = _start([worker], from_thread=False, timeout=ctx.remaining())
    if error is not None:
        _abandon([worker])
        if isinstance(error, Exception) and "bootstrapping" not in str(error):
            # Anything raised while pickling: TypeError, PicklingError, AttributeError for
            # local objects, or whatever a user's __getstate__/__reduce__ raises.
            return _dedupe(ctx, _spawn_pickling_finding(ctx, error, method, sev, elsewhere))
        raise error
    _drive(
        [worker],
        start_timeout=max(3 * ctx.batch_timeout, _SPAWN_START_LIMIT),
        batch_timeout=ctx.batch_timeout,
        deadline=ctx.deadline,
    )
    if worker.outcome == "died" and worker.exitcode == _BOOTSTRAP_EXIT and not worker.ready_at:
        return _dedupe(ctx, [_unguarded_main_finding(method, sev, elsewhere)])
    findings = _death_findings(ctx, [worker], method)
    if worker.ready_at is None:  # died or hung while starting: a spawn-only problem
        findings = [dataclasses.replace(f, severity=sev) for f in findings]
    if worker.load_error is not None:
        findings.append(_load_error_finding(worker.load_error, method, sev, elsewhere))
        return _dedupe(ctx, findings)
    findings += _spawn_differences(ctx, worker, parent, method, sev, elsewhere)
    if not parent.calls:  # nothing to compare with: report the worker's errors as such
        findings += _worker_errors([worker])
    first = worker.calls.get(0)
    if worker.ready_at is not None and first is not None and first.error is None:
        startup = worker.ready_at - t0 + first.seconds
        findings += _start_cost(ctx, method, startup, worker)
    return _dedupe(ctx, findings)


def _unguarded_main_finding(method: str, sev: Severity, elsewhere: str) -> Finding:
    main = sys.modules.get("__main__")
    where = getattr(main, "__file__", None) or "the main script"
    return make_finding(
        "TSG102",
        path="__main__",
        severity=sev,
        message=(
            f"A {method} worker{elsewhere} re-ran {where} while starting and reached "
            'check_loader() again: the script has no `if __name__ == "__main__":` guard. '
            "Every Keras worker would re-run the training script and fit() hangs "
            "(measured: 66 worker processes, killed after 90 s)"
        ),
        hint='Put the code that builds the loader and trains under `if __name__ == "__main__":`.',
        details={"start_method": method, "main": str(where)},
    )


def _spawn_pickling_finding(
    ctx: ProbeContext, error: BaseException, method: str, sev: Severity, elsewhere: str
) -> list[Finding]:
    text = f"{type(error).__name__}: {error}"
    code = "TSG102" if _is_import_problem(type(error).__name__, str(error)) else "TSG101"
    if _pickling_reported(ctx):
        _note(
            ctx,
            f"spawn_dry_run: the loader cannot be sent to a {method} worker ({text}); "
            "the pickling probe reports where",
        )
        return []
    return [
        make_finding(
            code,
            path="loader",
            severity=sev,
            message=(
                f"Sending the loader to a {method} worker{elsewhere} failed with {_short(text)}: "
                "Keras' process pool sends it the same way, so training would stop at its "
                "first batch"
            ),
            details={
                "start_method": method,
                "exception_type": type(error).__name__,
                "exception_message": str(error),
            },
        )
    ]


def _load_error_finding(err: dict[str, str], method: str, sev: Severity, elsewhere: str) -> Finding:
    short_type = err["type"].rpartition(".")[2]
    if _is_import_problem(short_type, err["message"]):
        return make_finding(
            "TSG102",
            path="loader",
            severity=sev,
            message=(
                f"A {method} worker{elsewhere} could not unpickle the loader: {short_type}: "
                f"{_short(err['message'])}. The worker imports the loader's class by name, "
                "and it is not importable there"
            ),
            details={
                "start_method": method,
                **_exception_details(err),
            },
        )
    return make_finding(
        "TSG104",
        path="loader",
        severity=sev,
        message=(
            f"A {method} worker{elsewhere} received the pickled loader but unpickling it "
            f"raised {short_type}: {_short(err['message'])}"
        ),
        details={
            "start_method": method,
            **_exception_details(err),
        },
    )


def _spawn_differences(
    ctx: ProbeContext,
    worker: _Worker,
    parent: _ParentPass,
    method: str,
    sev: Severity,
    elsewhere: str,
) -> list[Finding]:
    """TSG104: raises after unpickling where the parent works, or returns other data."""
    ok = {c.index: c for c in parent.calls if c.error is None}
    digests = [c.digest for c in parent.calls if c.index == ctx.indices[0] and c.digest]
    deterministic = len(digests) >= 2 and len(set(digests)) == 1
    findings: list[Finding] = []
    for pos in sorted(worker.calls):
        call = worker.calls[pos]
        mine = ok.get(call.index)
        if mine is None:
            continue
        if call.error is not None:
            err = call.error
            findings.append(
                make_finding(
                    "TSG104",
                    path=f"loader[{call.index}]",
                    severity=sev,
                    message=(
                        f"loader[{call.index}] works in this process, but in a {method} "
                        f"worker{elsewhere} it raised {err['type']} ({_short(err['message'])}): "
                        "something the loader holds does not survive "
                        "pickling (a socket passed by file descriptor, state dropped or "
                        "rebuilt in __setstate__)"
                    ),
                    details={
                        "index": call.index,
                        "start_method": method,
                        **_exception_details(err),
                    },
                )
            )
            break
        if deterministic and call.digest != mine.digest:
            findings.append(
                make_finding(
                    "TSG104",
                    path=f"loader[{call.index}]",
                    severity=sev,
                    message=(
                        f"loader[{call.index}] returns the same data on every call in this "
                        f"process but different data in a {method} worker{elsewhere}: the "
                        "loader's state changes when it is pickled (e.g. a shuffle or cache "
                        "rebuilt in __setstate__), so workers train on other samples"
                    ),
                    details={"index": call.index, "start_method": method},
                )
            )
            break
    return findings


def _start_cost(ctx: ProbeContext, method: str, startup: float, worker: _Worker) -> list[Finding]:
    """TSG702: the cost of starting one worker, paid workers x epochs times by Keras."""
    planned = ctx.start_method in _SPAWN_LIKE
    if not ctx.use_multiprocessing or (not planned and startup < _NOTABLE_START_SECONDS):
        return []
    cores = os.cpu_count() or 1
    waves = -(-ctx.workers // cores)
    cpu = startup * ctx.workers
    if planned:
        lead = (
            f"Starting one {method} worker took {startup:.2f}s (process start, imports, "
            "unpickling the loader, first batch)"
        )
    else:
        lead = (
            f"Workers fork here, but under {method} (macOS, Windows, Linux from Python "
            f"3.14) starting one worker takes {startup:.2f}s (process start, imports, "
            "unpickling the loader, first batch)"
        )
    return [
        make_finding(
            "TSG702",
            path="loader",
            message=(
                f"{lead}. Keras rebuilds its pool every epoch, so workers={ctx.workers} cost "
                f"about {cpu:.1f} CPU-seconds per epoch, about {startup * waves:.1f}s of wall "
                f"time on this machine's {cores} cores, before the first batch"
            ),
            details={
                "start_method": method,
                "seconds_per_worker": round(startup, 3),
                "load_seconds": round(worker.load_seconds or 0.0, 3),
                "workers": ctx.workers,
                "cpu_seconds_per_epoch": round(cpu, 3),
            },
        )
    ]


# --------------------------------------------------------------------------- generators


def _tf_keras_epoch_stall(ctx: ProbeContext) -> list[Finding]:
    """TSG703: a tf_keras Sequence that tf_keras' fit() would feed through its OrderedEnqueuer."""
    if not (ctx.workers > 1 or ctx.use_multiprocessing):
        return []  # fit(workers=1) without processes iterates the Sequence directly
    base = next(
        (
            c
            for c in type(ctx.loader).__mro__
            if c.__name__ == "Sequence" and c.__module__.split(".")[0] == "tf_keras"
        ),
        None,
    )
    if base is None:
        return []
    how = "processes" if ctx.use_multiprocessing else "threads"
    hook = type(ctx.loader).on_epoch_end
    overridden = hook is not getattr(base, "on_epoch_end", None)
    twice = (
        f". It also calls on_epoch_end twice per epoch, once mid-epoch from its enqueuer "
        f"thread while batches are still being made (docs/failure-modes.md row 4.6: 6 calls for 3 "
        f"epochs), and {type(ctx.loader).__name__} overrides on_epoch_end: a reshuffle there "
        "changes the order under the batches in flight"
        if overridden
        else ""
    )
    return [
        make_finding(
            "TSG703",
            path="loader.on_epoch_end" if overridden else "loader",
            severity=Severity.WARNING if overridden else None,
            message=(
                f"The loader is a tf_keras Sequence ({base.__module__}.Sequence) and "
                f"workers={ctx.workers} {how}: tf_keras' fit() feeds it through its "
                "OrderedEnqueuer, which waits up to 5 s for its queue at the end of every "
                "epoch (measured: 17.2 s for 3 epochs of 64 samples with workers=2, against "
                f"1.0-1.5 s through threadsafe_gen.keras.legacy_fit_input){twice}"
            ),
            details={
                "workers": ctx.workers,
                "use_multiprocessing": ctx.use_multiprocessing,
                "on_epoch_end_overridden": overridden,
            },
        )
    ]


def _generator_copies(ctx: ProbeContext) -> list[Finding]:
    """TSG402: a generator loader with workers>1; measured in 2 forked copies when possible."""
    if ctx.workers <= 1:
        return []
    measured = _measure_generator_copies(ctx)
    if ctx.use_multiprocessing:
        lead = (
            f"The loader is a generator (or iterator) and workers={ctx.workers} with "
            "use_multiprocessing=True: tf_keras runs a copy of it in each of the "
            f"{ctx.workers} processes, so every item arrives up to {ctx.workers} times, "
            "with no warning (Keras 3 rejects these arguments)"
        )
    else:
        lead = (
            f"The loader is a generator (or iterator) and workers={ctx.workers}: with "
            "use_multiprocessing=True tf_keras would run a copy of it in each process, so "
            f"every item would arrive up to {ctx.workers} times"
        )
    details: dict[str, Any] = {"factor": ctx.workers}
    from .._iterators import threadsafe_iter

    if isinstance(measured, str) or isinstance(ctx.loader, threadsafe_iter):
        # threadsafe_gen's own wrappers: see NOTE [ Copies in other processes ] in _iterators.
        error = (
            measured if isinstance(measured, str) else "threadsafe_gen.errors.CopiedIteratorError"
        )
        setting = (
            " with use_multiprocessing=True:"
            if ctx.use_multiprocessing
            else ": with use_multiprocessing=True"
        )
        lead = (
            f"The loader is a threadsafe_gen iterator and workers={ctx.workers}{setting} "
            "tf_keras would start it in this process (its first-batch peek) and copy it "
            f"into each of the {ctx.workers} processes. The copies refuse to continue, so "
            f"fit() fails with {error} instead of duplicating every item"
        )
        if isinstance(measured, str):
            lead += f". Measured: 2 forked copies of the started iterator raised {measured}"
        details.update(refused=error)
    elif measured is not None:
        same, total = measured
        lead += f". Measured: 2 forked copies yielded identical data for {same} of {total} items"
        details.update(identical=same, compared=total)
    return [
        make_finding(
            "TSG402",
            path="loader",
            severity=_sev(ctx.use_multiprocessing),
            message=lead,
            details=details,
        )
    ]


def _measure_generator_copies(ctx: ProbeContext) -> tuple[int, int] | str | None:
    """(identical, compared) items of 2 forked copies, or the error name both copies raised."""
    if (
        ctx.make_iterator is None
        or "fork" not in multiprocessing.get_all_start_methods()
        or ctx.remaining() <= 0
    ):
        return None
    try:
        it = ctx.make_iterator()
    except Exception as exc:
        _note(ctx, f"process_inspection: make_iterator() raised {exc!r}")
        return None
    from .._iterators import threadsafe_iter

    ours = isinstance(it, threadsafe_iter)
    if ours:
        # tf_keras takes the first batch in this process before it forks (its peek): our
        # wrappers then refuse to continue in the copies. Mirror that order.
        try:
            next(it)
        except Exception as exc:
            _note(ctx, f"process_inspection: the first next() raised {exc!r}")
            return None
    draws = max(1, min(_GENERATOR_DRAWS, ctx.max_batches))
    mp_ctx = multiprocessing.get_context("fork")
    pair = [_make_worker(mp_ctx, f"fork-gen-{k}", Payload(it), draws) for k in (1, 2)]
    if _start(pair, from_thread=True, timeout=max(1.0, min(30.0, ctx.remaining()))):
        _abandon(pair)
        return None
    _drive(
        pair,
        start_timeout=ctx.batch_timeout,
        batch_timeout=ctx.batch_timeout,
        deadline=ctx.deadline,
    )
    close = getattr(it, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            pass
    if ours:
        raised = {c.error["type"] for w in pair for c in w.calls.values() if c.error is not None}
        refused = [w for w in pair if any(c.error is not None for c in w.calls.values())]
        if len(refused) == len(pair) and len(raised) == 1:
            return raised.pop()
    same, total = _identical(pair[0], pair[1])
    return (same, total) if total else None


#: The process probes, in the order check_loader() runs them.
PROBES: list[Callable[[ProbeContext], list[Finding]]] = [
    fork_dry_run,  # first: its parent calls open lazy handles, as Keras' peek does
    process_inspection,
    spawn_dry_run,
]
