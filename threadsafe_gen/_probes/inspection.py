"""The process inspection probe: what process workers would copy or share, found by looking.

No child process (except to measure TSG402). Walks the loader's attributes for OS handles
(TSG201), raw locks held now or next to live threads (TSG202) and RNG objects (TSG503), each
by its path; counts this process's threads when workers fork (TSG204); flags a generator
loader that process workers would copy (TSG402), with the duplication measured in 2 forked
copies; and a tf_keras Sequence that tf_keras' OrderedEnqueuer would stall at every epoch
end (TSG703). threadsafe_gen's own locks, PerProcess and PerThread objects are safe by
design and never flagged.

Severity rule (shared with the fork dry run): fork-only problems are errors when the planned
workers are forked processes, warnings otherwise, because users switch settings and Python
3.14 changes Linux's default start method. TSG201 is only a warning when the fork dry run
passed (the loader may reopen the handle per process); TSG202 is an error only for a lock
held right now when workers fork; TSG503 is a warning with process workers and info with
threads (one shared RNG is harmless there); TSG204 and TSG703 are info.
"""

from __future__ import annotations

import _thread
import ast
import dataclasses
import functools
import inspect
import io
import mmap
import multiprocessing
import random
import re
import socket
import sqlite3
import sys
import textwrap
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

from .._finding import Finding, make_finding
from .._iterators import threadsafe_iter
from .._locks import is_held
from .._registry import Severity
from .._text import one_line, some, type_name
from . import failures
from ._calls import call_once
from ._child import Payload
from ._context import Probe, ProbeContext, error_if
from ._observe import usable
from ._pool import abandon, drive, exit_if_bootstrapping, make_worker, start

__all__ = ["CODES", "PROBES", "handle_fd", "other_python_threads", "process_inspection", "walk"]

CODES: frozenset[str] = frozenset({"TSG201", "TSG202", "TSG204", "TSG402", "TSG503", "TSG703"})

_MAX_WALK_NODES = 20_000
_MAX_WALK_DEPTH = 8
_MAX_CONTAINER_ITEMS = 1_000
#: Items drawn per forked copy of a generator loader.
_GENERATOR_DRAWS = 4
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
#: How findings name the handles of each library of :data:`_KNOWN_HANDLES`.
_HANDLE_LABELS = {
    "psycopg": "PostgreSQL connection",
    "psycopg2": "PostgreSQL connection",
    "pymongo": "MongoDB client",
    "h5py": "HDF5 file",
    "redis": "Redis client",
    "lmdb": "LMDB environment",
    "sqlalchemy": "database connection",
    "pymysql": "MySQL connection",
    "MySQLdb": "MySQL connection",
}


# --- the walk -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Walk:
    """What the walk of the loader's attribute graph found, by path."""

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
        return _HANDLE_LABELS[root]
    known = _known_handle_type(cls)
    if known is not None:
        return known
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


def _known_handle_type(cls: type) -> str | None:
    """What *cls* is (``"LMDB environment"``) when it is one of :data:`_KNOWN_HANDLES`, looked up in its
    library's module: C extensions may name their types' module ``builtins`` (lmdb's
    ``Environment`` does), so the class name and module alone do not recognise them."""
    loaded = tuple(root for root in _KNOWN_HANDLES if root in sys.modules)
    for root, types_ in _handle_types(loaded):
        if issubclass(cls, types_):
            return _HANDLE_LABELS[root]
    return None


@functools.cache
def _handle_types(loaded: tuple[str, ...]) -> tuple[tuple[str, tuple[type, ...]], ...]:
    """The handle classes of the libraries in *loaded* (imported ones), by library."""
    out = []
    for root in loaded:
        module = sys.modules.get(root)
        found = tuple(
            t for name in _KNOWN_HANDLES[root] if isinstance(t := getattr(module, name, None), type)
        )
        if found:
            out.append((root, found))
    return tuple(out)


def _is_rng(obj: Any) -> bool:
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
    yield from _attributes(obj, path)


def _attributes(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Instance attributes and slots, read without running ``__getattr__`` or properties."""
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


def walk(root: Any, root_path: str = "loader") -> Walk:
    """Breadth-first walk of the loader's attribute graph, recording what forks badly."""
    found = Walk()
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
        verdict = _record(found, path, obj, is_root=obj is root)
        if verdict == "ours":
            wrapped = getattr(obj, "__wrapped__", None)  # our wrappers hold user objects
            if wrapped is not None and depth < _MAX_WALK_DEPTH:
                queue.append((f"{path}.__wrapped__", wrapped, depth + 1))
            continue
        if verdict == "recorded":
            continue
        if callable(obj) and not hasattr(obj, "__dict__"):
            continue  # builtins, C functions
        if type(obj).__name__ == "module" or depth >= _MAX_WALK_DEPTH:
            continue
        for child_path, child in _children(obj, path):
            queue.append((child_path, child, depth + 1))
    return found


def _record(found: Walk, path: str, obj: Any, *, is_root: bool) -> str:
    """Record *obj* if it forks badly: ``"recorded"`` (the walk stops there), ``"ours"`` (one
    of threadsafe_gen's objects: only its ``__wrapped__`` is followed) or ``"walk"``."""
    if isinstance(obj, _LOCK_TYPES):
        found.locks.append((path, obj, is_held(obj)))
        return "recorded"
    if isinstance(obj, threading.Condition):
        inner = getattr(obj, "_lock", None)
        found.locks.append((path, obj, inner is not None and is_held(inner)))
        return "recorded"
    if isinstance(obj, _SIGNAL_TYPES):
        return "recorded"  # their internal lock is held only for an instant, never across calls
    if isinstance(obj, threading.Thread):
        if obj.is_alive():
            found.threads.append((path, obj))
        return "recorded"
    if not is_root and _is_ours(obj):
        return "ours"
    if _is_rng(obj):
        found.rngs.append((path, obj))
        return "recorded"
    if _handle_kind(obj) is not None:
        found.handles.append((path, obj))
        return "recorded"
    return "walk"


def _os_thread_count(samples: int = 3) -> int:
    """Threads of this process as the kernel sees them (TensorFlow's included).

    The fewest of a few readings a few milliseconds apart: a helper thread the check has
    just joined may still be leaving the kernel's list, and counting it would make TSG204
    come and go between identical checks.
    """
    counts: list[int] = []
    for k in range(samples):
        if k:
            time.sleep(0.005)
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                counts += [int(line.split()[1]) for line in f if line.startswith("Threads:")]
        except OSError:
            return threading.active_count()
    return min(counts) if counts else threading.active_count()


def other_python_threads() -> list[threading.Thread]:
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


# --- the probe ------------------------------------------------------------------------------------


def process_inspection(ctx: ProbeContext) -> list[Finding]:
    """Inspect the loader and this process for what process workers would copy or share.

    TSG201 handles, TSG202 raw locks held now or next to live threads, TSG204 a
    multi-threaded process about to fork, TSG503 RNG objects, TSG402 a generator loader
    copied into every worker process. No child process except for TSG402's measurement.
    """
    exit_if_bootstrapping()
    findings: list[Finding] = []
    if ctx.kind == "generator":
        findings += _generator_copies(ctx)
    else:
        findings += _tf_keras_epoch_stall(ctx)
    found = walk(ctx.loader)
    if found.truncated:
        ctx.state.note(f"process_inspection: stopped after {_MAX_WALK_NODES} objects")
    findings += _handle_findings(ctx, found)
    others = other_python_threads()
    findings += _lock_findings(ctx, found, others)
    if ctx.fork_planned:
        findings += _thread_count_findings(others)
    findings += _rng_findings(ctx, found)
    return findings


def _rng_findings(ctx: ProbeContext, found: Walk) -> list[Finding]:
    """TSG503, one per top-level attribute (an augmentation pipeline holds one RNG per step)."""
    observed = usable(ctx.state.observed)
    groups: dict[str, list[tuple[str, Any]]] = {}
    for path, rng in found.rngs:
        if observed is not None and path not in observed.drew:
            # __getitem__ never draws from it: an RNG used in on_epoch_end or __init__ only
            # runs in the parent, and the workers' copies stay unused (issue 10 item 3).
            continue
        groups.setdefault(_top_level(path), []).append((path, rng))
    severity = Severity.WARNING if ctx.use_multiprocessing else Severity.INFO
    findings: list[Finding] = []
    for top, rngs in groups.items():
        path, rng = rngs[0]
        more = (
            f" (and {len(rngs) - 1} more RNGs in {top}: {some([p for p, _ in rngs[1:]], 3)})"
            if len(rngs) > 1
            else ""
        )
        findings.append(
            make_finding(
                "TSG503",
                path=path,
                severity=severity,
                message=(
                    f"{path} ({type_name(rng)}) is an RNG stored on the loader{more}"
                    f"{', and __getitem__ draws from it' if observed is not None else ''}. "
                    "Forking or pickling copies it with its state into every worker, so the "
                    "workers draw the same numbers (measured: 16 of 64 augmentations "
                    "distinct with 4 forked workers), and every epoch repeats them"
                ),
                details={"type": type_name(rng), "rngs": [p for p, _ in rngs]},
            )
        )
    return findings


def _top_level(path: str) -> str:
    """``loader.augment`` for ``loader.augment.transforms[2].rng``."""
    match = re.match(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*|\[[^\]]*\])?", path)
    return match.group(0) if match else path


def _handle_findings(ctx: ProbeContext, found: Walk) -> list[Finding]:
    """TSG201 for each OS handle on the loader, one per underlying resource (two datasets of
    one HDF5 file are one open file)."""
    # The fork dry run runs first: when it saw no problem, the loader may already reopen the
    # handle per process, so the inherited handle is reported as a risk, not an error.
    fork_clean = ctx.state.fork_clean is True
    used = ctx.state.observed.shared if ctx.state.observed is not None else {}
    groups: dict[tuple[str, object], list[tuple[str, Any]]] = {}
    for path, obj in found.handles:
        groups.setdefault(_resource_key(obj), []).append((path, obj))
    findings: list[Finding] = []
    for handles in groups.values():
        path, obj = handles[0]
        kind = _handle_kind(obj) or "handle"
        fd = handle_fd(obj)
        if fd is not None and fd in used:
            # Measured, not inferred: a forked copy sent requests on it.
            index, kind = used[fd]
            how = "sent requests on it" if kind == "socket" else "moved its offset"
            passed = f"; a forked copy of this process {how} (loader[{index}])"
            clean = False
        else:
            clean = fork_clean
            passed = (
                "; the fork dry run passed, so the loader may already reopen it per process "
                "(then suppress this code)"
                if fork_clean
                else ""
            )
        others = [p for p, _ in handles[1:]]
        also = f" (so are {some(others, 3)}, on the same resource)" if others else ""
        findings.append(
            make_finding(
                "TSG201",
                path=path,
                severity=error_if(ctx.fork_planned and not clean),
                message=(
                    f"{path} ({type_name(obj)}, {_article(kind)} {kind}) was opened in this "
                    f"process{also}. Forked workers inherit it and share one file offset, "
                    "stream or database session with the parent and each other, which gives "
                    "wrong rows, interleaved replies or protocol errors; spawned workers "
                    f"cannot receive most handles at all{passed}"
                ),
                hint=(
                    "Open it lazily in each worker process: make it a class attribute "
                    "`threadsafe_gen.per_process(factory)` (keyed by pid), or reopen it when "
                    "os.getpid() changes; drop it in __getstate__ for spawn."
                ),
                details={"type": type_name(obj), "kind": kind, "paths": [p for p, _ in handles]},
            )
        )
    return findings


def _resource_key(obj: Any) -> tuple[str, object]:
    """What a handle is opened on: the file of an HDF5 dataset or group (``.file``, by its
    file name: h5py makes a new File object at every access, so its id says nothing), the
    descriptor of a socket or file, else the handle itself."""
    try:
        owner = getattr(obj, "file", None)
    except Exception:
        owner = None
    if owner is not None and _handle_kind(owner) is not None:
        name = getattr(owner, "filename", None)
        return ("file", name) if isinstance(name, str) else ("object", id(owner))
    fd = handle_fd(obj)
    return ("fd", fd) if fd is not None else ("object", id(obj))


def handle_fd(obj: Any) -> int | None:
    """The descriptor of a handle, or None."""
    try:
        fd = obj.fileno()
    except Exception:
        return None
    return fd if isinstance(fd, int) and fd >= 0 else None


def _article(noun: str) -> str:
    """``a`` or ``an`` for *noun*, by how it is read (an LMDB, an HDF5, a socket)."""
    return "an" if noun[:1].lower() in "aeiou" or noun[:2] in ("LM", "HD", "MS", "SQ") else "a"


def _lock_findings(ctx: ProbeContext, found: Walk, others: list[threading.Thread]) -> list[Finding]:
    """TSG202 for raw locks held now or next to other live threads."""
    thread_names = sorted(t.name for t in others) + sorted(p for p, _ in found.threads)
    findings: list[Finding] = []
    for path, lock, held in found.locks:
        if not held and not others and not found.threads:
            continue  # an idle lock in a single-threaded process forks fine
        state = "is held right now" if held else "is not held right now"
        findings.append(
            make_finding(
                "TSG202",
                path=path,
                severity=error_if(ctx.fork_planned and held),
                message=(
                    f"{path} ({type_name(lock)}) {state}, and this process runs "
                    f"{len(thread_names)} other Python thread(s) ({one_line(', '.join(thread_names), 120)}). "
                    "fork copies a lock in its current state but not the thread holding it: "
                    "a worker forked while it is held waits for it forever"
                ),
                details={"held": held, "threads": thread_names},
            )
        )
    return findings


def _thread_count_findings(others: list[threading.Thread]) -> list[Finding]:
    """TSG204 when this process has other threads and the workers fork from it."""
    n_os = _os_thread_count()
    if n_os <= 1:
        return []
    return [
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
                "python_threads": [threading.main_thread().name, *sorted(t.name for t in others)],
                "python": sys.version.split()[0],
            },
        )
    ]


# --- tf_keras' OrderedEnqueuer --------------------------------------------------------------------


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
    overridden = hook is not getattr(base, "on_epoch_end", None) and not _does_nothing(hook)
    twice = (
        f". It also calls on_epoch_end twice per epoch, once mid-epoch from its enqueuer "
        f"thread while batches are still being made (docs/failure-modes.md row 4.6: 6 calls "
        f"for 3 epochs), and {type(ctx.loader).__name__} overrides on_epoch_end: a reshuffle "
        "there changes the order under the batches in flight"
        if overridden
        else ""
    )
    return [
        make_finding(
            "TSG703",
            path="loader.on_epoch_end" if overridden else "loader",
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


def _does_nothing(func: Any) -> bool:
    """Whether *func*'s body is only ``pass``, ``...`` or a docstring (an override that keeps
    the base's no-op, as many copies of the Sequence template do)."""
    code = getattr(func, "__code__", None)
    if code is None:
        return False
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        # No source: compare with a function that does nothing.
        return code.co_code == _nothing.__code__.co_code and not code.co_names
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    return all(
        isinstance(stmt, ast.Pass)
        or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        for stmt in node.body
    )


def _nothing(self: Any) -> None:
    pass


# --- generators copied into every worker process ----------------------------------------------------


def _generator_copies(ctx: ProbeContext) -> list[Finding]:
    """TSG402: a generator loader with workers>1; measured in 2 forked copies when possible."""
    if ctx.workers <= 1:
        return []
    measured, hang = _measure_generator_copies(ctx)
    details: dict[str, Any] = {"factor": ctx.workers}
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
    else:
        lead = _copies_lead(ctx)
        if measured is not None:
            same, total = measured
            lead += (
                f". Measured: 2 forked copies yielded identical data for {same} of {total} items"
            )
            details.update(identical=same, compared=total)
    return [
        *hang,
        make_finding(
            "TSG402",
            path="loader",
            severity=error_if(ctx.use_multiprocessing),
            message=lead,
            details=details,
        ),
    ]


def _copies_lead(ctx: ProbeContext) -> str:
    if ctx.use_multiprocessing:
        return (
            f"The loader is a generator (or iterator) and workers={ctx.workers} with "
            "use_multiprocessing=True: tf_keras runs a copy of it in each of the "
            f"{ctx.workers} processes, so every item arrives up to {ctx.workers} times, "
            "with no warning (Keras 3 rejects these arguments)"
        )
    return (
        f"The loader is a generator (or iterator) and workers={ctx.workers}: with "
        "use_multiprocessing=True tf_keras would run a copy of it in each process, so "
        f"every item would arrive up to {ctx.workers} times"
    )


_Measured = tuple[int, int] | str | None


def _measure_generator_copies(ctx: ProbeContext) -> tuple[_Measured, list[Finding]]:
    """((identical, compared) items of 2 forked copies, or the error name both copies
    raised, or None), and a TSG801 finding when the first item never came."""
    if (
        ctx.make_iterator is None
        or "fork" not in multiprocessing.get_all_start_methods()
        or ctx.remaining() <= 0
    ):
        return None, []
    if ctx.state.inprocess_unsafe:
        reason = ctx.state.inprocess_unsafe
        ctx.state.note(f"process_inspection: generator copies not measured: {reason}")
        return None, []
    started, hang = _start_iterator(ctx, ctx.make_iterator)
    if started is None:
        return None, hang
    it, ours = started
    draws = max(1, min(_GENERATOR_DRAWS, ctx.max_batches))
    mp_ctx = multiprocessing.get_context("fork")
    pair = [make_worker(mp_ctx, f"fork-gen-{k}", Payload(it), draws) for k in (1, 2)]
    if start(pair, from_thread=True, timeout=max(1.0, min(30.0, ctx.remaining()))):
        abandon(pair)
        return None, []
    drive(
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
            return raised.pop(), []
    da, db = pair[0].digests(), pair[1].digests()
    common = sorted(set(da) & set(db))
    same, total = sum(da[p] == db[p] for p in common), len(common)
    return ((same, total) if total else None), []


def _start_iterator(
    ctx: ProbeContext, make: Callable[[], Iterator[Any]]
) -> tuple[tuple[Iterator[Any], bool] | None, list[Finding]]:
    """((a fresh iterator, whether it is ours), []) ready to be forked, or (None, findings).

    tf_keras takes the first batch in this process before it forks (its peek): our
    wrappers then refuse to continue in the copies, so that order is mirrored. Both steps
    run on a helper thread with the call timeout: a first item that never comes must not
    hang the check.
    """
    made = call_once(make, ctx.call_timeout())
    if made is None:
        return None, failures.hang_finding(ctx, 0, "making an iterator to copy")
    if made.error is not None:
        ctx.state.note(f"process_inspection: make_iterator() raised {made.error!r}")
        return None, []
    it = made.value
    ours = isinstance(it, threadsafe_iter)
    if ours:
        first = call_once(functools.partial(next, it), ctx.call_timeout())
        if first is None:
            return None, failures.hang_finding(ctx, 0, "the first next() before copying it")
        if first.error is not None:
            ctx.state.note(f"process_inspection: the first next() raised {first.error!r}")
            return None, []
    return (it, ours), []


PROBES = (
    Probe(
        "process_inspection",
        process_inspection,
        reads=("fork_clean", "inprocess_unsafe", "observed"),
        records=("inprocess_unsafe", "cut_short"),
    ),
)
