"""Pickling probe: can spawn/forkserver workers receive the loader, and what does it cost?

Workers started with ``spawn`` (Windows, macOS) or ``forkserver`` (Linux from Python 3.14)
receive the loader through ``multiprocessing.reduction.ForkingPickler``, so that is the pickler
used here (never dill/cloudpickle: they accept things the real transport refuses, and the
reverse holds for sockets, which ForkingPickler passes by duplicating the descriptor).

When the loader does not pickle, :func:`find_unpicklable` walks the object graph the way pickle
does (``__reduce_ex__``, ``__getstate__``, slots, dict and list items) and reports EVERY member
that cannot be pickled, with its path from the loader (``loader.cfg['aug'].lock``) and its type.
The walk is post-order: a subtree that pickles is never entered, and a node that does not
pickle is reported only when none of its children explains the failure, so each report names
the deepest culprit (Grain's ``_check_picklable`` does the same for the first culprit only).
Objects whose type is known to be unpicklable (locks, files, connections, generators, ...) are
reported as a whole with a specific hint instead of by their private internals.

Decides TSG101 (a member that cannot be pickled), TSG102 (code that cannot be imported by
name in the worker: local classes and functions, an unguarded main script) and TSG103 (a large
payload). The spawn dry run meets the same failures in a real child and reports them with the
builders here (:func:`send_failure_finding`, :func:`import_failure_finding`,
:func:`unguarded_main_finding`), so each code has one home.

Severity rule (shared with the process probes): a problem that only affects spawn/forkserver
workers is an error when the planned workers are processes started that way, and a warning
otherwise, with fork processes or with threads: it "fails on Windows, macOS, and on Linux
from Python 3.14" as soon as the loader runs in process workers there.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import io
import pickle
import re
import socket
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterator
from multiprocessing.reduction import ForkingPickler
from typing import Any

from .._finding import Finding, make_finding
from .._registry import Severity
from .._text import one_line, short_repr, some, type_name
from . import failures
from ._calls import call_once
from ._context import Probe, ProbeContext
from ._pool import exception_details

__all__ = [
    "CODES",
    "LARGE_PAYLOAD_BYTES",
    "PROBES",
    "Unpicklable",
    "by_attribute",
    "culprit_finding",
    "find_unpicklable",
    "import_failure_finding",
    "is_import_problem",
    "pickled_size",
    "pickling_limit",
    "probe_pickling",
    "send_failure_finding",
    "spawn_only_severity",
    "unguarded_main_finding",
]

CODES: frozenset[str] = frozenset({"TSG101", "TSG102", "TSG103"})

#: Above this many pickled bytes the loader gets a TSG103 finding. 128 MiB measured +6-7 s
#: per epoch under spawn with 4 workers (docs/failure-modes.md row 2.0b), so 16 MiB costs about 1 s.
LARGE_PAYLOAD_BYTES = 16 * 1024 * 1024

#: The walk stops after this many nodes or this depth; the report says so.
MAX_NODES = 20_000
MAX_DEPTH = 60

_SPAWN_NOTE = "fails on Windows, macOS, and on Linux from Python 3.14"


@dataclasses.dataclass(frozen=True)
class Unpicklable:
    """One member of the loader that cannot be pickled.

    Attributes:
        path: where it sits, e.g. ``loader.cfg['aug'].lock``.
        type_name: its qualified type name, e.g. ``_thread.lock``.
        error: what the pickler said (type and message).
        hint: how to fix it, specific to the kind of object.
        code: ``TSG101`` (unpicklable member) or ``TSG102`` (code that cannot be imported by name).
    """

    path: str
    type_name: str
    error: str
    hint: str
    code: str = "TSG101"


def spawn_only_severity(ctx: ProbeContext) -> Severity:
    """The severity of a problem that only spawn/forkserver workers have (see module docstring)."""
    if ctx.use_multiprocessing and ctx.start_method in ("spawn", "forkserver"):
        return Severity.ERROR
    return Severity.WARNING


class _CountingSink(io.RawIOBase):
    """A write-only file that only counts bytes, so sizing a 1 GB loader costs no memory."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        n = memoryview(data).nbytes
        self.size += n
        return n


def _socket_stand_in(sock: socket.socket) -> tuple[Any, tuple[Any, ...]]:
    """Reduce a socket the way ForkingPickler does, minus the descriptor duplication."""
    return socket.socket, (sock.family, sock.type, sock.proto)


class _Pickler(ForkingPickler):
    """multiprocessing's pickler without its one side effect in the pickling process.

    ForkingPickler reduces a socket with ``DupFd``; outside a process being started that
    registers a duplicate of the descriptor with ``multiprocessing.resource_sharer``, which
    starts a server thread and keeps the duplicate open in this process for good. The real
    transport reduces sockets while it starts the worker (the descriptor goes to the child),
    so a socket does pickle: count it without duplicating anything, so a check leaves no
    thread and no descriptor behind (and later probes do not see a thread it started).
    """

    def __init__(self, file: Any, protocol: int | None = None) -> None:
        super().__init__(file, protocol)
        if socket.socket in self.dispatch_table:
            self.dispatch_table[socket.socket] = _socket_stand_in


def _dump(obj: Any) -> int:
    """Pickle *obj* with multiprocessing's pickler into a counter; return the byte count."""
    sink = _CountingSink()
    with warnings.catch_warnings():
        # itertools objects warn that their pickling support goes away in 3.14; the answer
        # we want is whether it pickles today, not a DeprecationWarning turned into an error.
        warnings.simplefilter("ignore", DeprecationWarning)
        _Pickler(sink, pickle.HIGHEST_PROTOCOL).dump(obj)
    return sink.size


def pickled_size(obj: Any) -> int:
    """Bytes that spawn/forkserver would send to each worker for *obj*.

    Raises:
        Exception: whatever the pickler raises when *obj* cannot be pickled.
    """
    return _dump(obj)


# --- known unpicklable kinds: reported as a whole, with a specific hint ---------------------

_LOCK_TYPES: tuple[type, ...] = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Semaphore,
    threading.Event,
    threading.Barrier,
)
_LOCK_HINT = (
    "Use threadsafe_gen.Lock / RLock / Condition / Semaphore / Event: they pickle to a fresh "
    "lock in the worker (a lock protects this process's threads only anyway)."
)
_HANDLE_HINT = (
    "Open it lazily in each worker with threadsafe_gen.per_process(factory) as a class "
    "attribute, or drop it in __getstate__ and reopen it in __setstate__."
)
_GENERATOR_HINT = (
    "Do not keep a generator on the loader: create the iterator inside __getitem__ from the "
    "index, or pass a @threadsafe_generator function so each worker builds its own."
)
_LOCAL_HINT = (
    "Spawned workers import code by its qualified name: define the function or class at "
    "module level in an importable module (def, not lambda)."
)
_LOCAL_THREAD_HINT = "Use threadsafe_gen.per_thread(factory) instead of threading.local."
_THREAD_HINT = (
    "Start the thread inside the worker (lazily, with threadsafe_gen.per_process) or stop it "
    "and drop it in __getstate__."
)
_MODULE_HINT = "Import the module at the top of your module and refer to it by name."
_GENERIC_HINT = (
    "Create it lazily in each worker (threadsafe_gen.per_process), or give its class "
    "__getstate__/__setstate__ (or __reduce__) that drops and re-creates it."
)


def _known_kind(obj: Any) -> tuple[str, str] | None:
    """(code, hint) for objects we report as a whole without descending, else None."""
    if isinstance(obj, _LOCK_TYPES):
        return "TSG101", _LOCK_HINT
    if isinstance(obj, (types.GeneratorType, types.AsyncGeneratorType, types.CoroutineType)):
        return "TSG101", _GENERATOR_HINT
    if isinstance(obj, threading.local):
        return "TSG101", _LOCAL_THREAD_HINT
    if isinstance(obj, threading.Thread):
        return "TSG101", _THREAD_HINT
    if isinstance(obj, types.ModuleType):
        return "TSG101", _MODULE_HINT
    if isinstance(obj, (io.IOBase,)) or type_name(obj) in _HANDLE_TYPE_NAMES:
        return "TSG101", _HANDLE_HINT
    if isinstance(obj, (types.FunctionType, type)) and _is_local(obj):
        return "TSG102", _LOCAL_HINT
    return None


_HANDLE_TYPE_NAMES = frozenset(
    {
        "sqlite3.Connection",
        "sqlite3.Cursor",
        "socket.socket",
        "mmap.mmap",
        "_io.BufferedReader",
        "_io.BufferedWriter",
        "_io.TextIOWrapper",
        "_io.FileIO",
        "select.epoll",
        "selectors.DefaultSelector",
    }
)


def _is_local(obj: Any) -> bool:
    try:
        qualname = getattr(obj, "__qualname__", "")
    except Exception:  # a __getattr__ raising something other than AttributeError
        return False
    return isinstance(qualname, str) and ("<locals>" in qualname or "<lambda>" in qualname)


# --- the walk --------------------------------------------------------------------------------

# Types pickle handles natively and that contain nothing else: never worth entering.
_ATOMIC = (type(None), bool, int, float, complex, str, bytes, bytearray, range, slice)


@dataclasses.dataclass
class _Walk:
    dumps: Callable[[Any], Any] | None = None  # another pickler: functions go by value
    found: list[Unpicklable] = dataclasses.field(default_factory=list)
    seen: set[int] = dataclasses.field(default_factory=set)
    keep: list[Any] = dataclasses.field(default_factory=list)  # keeps ids in `seen` unique
    nodes: int = 0
    truncated: bool = False


def find_unpicklable(
    obj: Any, root: str = "loader", *, dumps: Callable[[Any], Any] | None = None
) -> list[Unpicklable]:
    """Every member of *obj* that multiprocessing's pickler refuses, with its path and type.

    Use it when ``pickle.dumps(loader)`` fails with a message that names a type but not the
    attribute: this walks the object graph post-order and returns each deepest culprit.

    Args:
        obj: the object to inspect (usually a loader).
        root: the name used for *obj* at the start of each path.
        dumps: the pickler the receiving framework uses instead of multiprocessing's, e.g.
            ``cloudpickle.dumps`` (Grain ships its pipelines with it). Such a pickler sends
            functions and classes by value, so a lambda or local function is entered (its
            closure) instead of being reported as not importable.

    Returns:
        One :class:`Unpicklable` per culprit, in the order pickle would meet them; an empty
        list when *obj* pickles. A final entry with ``type_name == "..."`` says the walk was
        cut short by its size or depth limit.

    >>> import threading
    >>> state = {"lock": threading.Lock(), "aug": [1, 2, threading.local()]}
    >>> [(u.path, u.type_name) for u in find_unpicklable(state, root="cfg")]
    [("cfg['lock']", '_thread.lock'), ("cfg['aug'][2]", '_thread._local')]
    """
    walk = _Walk(dumps=dumps)
    _visit(obj, root, 0, walk)
    if walk.truncated:
        walk.found.append(
            Unpicklable(
                path=root,
                type_name="...",
                error=f"walk stopped after {walk.nodes} objects or depth {MAX_DEPTH}",
                hint="Some members were not inspected; pickle parts of the loader to narrow it down.",
            )
        )
    return walk.found


def _pickle_error(obj: Any, dumps: Callable[[Any], Any] | None = None) -> BaseException | None:
    try:
        if dumps is None:
            _dump(obj)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                dumps(obj)
    except RecursionError as exc:
        return exc
    except Exception as exc:
        return exc
    return None


def _visit(obj: Any, path: str, depth: int, walk: _Walk) -> bool:
    """Return True when the subtree at *obj* fails to pickle (culprits appended to walk)."""
    if isinstance(obj, _ATOMIC) or id(obj) in walk.seen:
        return False
    walk.nodes += 1
    if walk.nodes > MAX_NODES or depth > MAX_DEPTH:
        walk.truncated = True
        return False
    walk.seen.add(id(obj))
    walk.keep.append(obj)
    error = _pickle_error(obj, walk.dumps)
    if error is None:
        return False
    by_value = walk.dumps is not None and isinstance(obj, (types.FunctionType, type))
    known = None if by_value else _known_kind(obj)
    if known is None:
        failed_child = False
        children = _closure(obj, path) if by_value else _children(obj, path)
        for child_path, child in children:
            failed_child |= _visit(child, child_path, depth + 1, walk)
        if failed_child:
            return True
    if known is not None:
        code, hint = known
    elif _is_local(obj) and not by_value:
        code, hint = "TSG102", _LOCAL_HINT
    else:
        code, hint = "TSG101", _GENERIC_HINT
    walk.found.append(
        Unpicklable(
            path=path,
            type_name=type_name(obj),
            error=f"{type(error).__name__}: {error}",
            hint=hint,
            code=code,
        )
    )
    return True


def _closure(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
    """What a by-value pickler (cloudpickle) sends with a function: closure and defaults."""
    if isinstance(obj, type):
        yield from ((f"{path}.{k}", v) for k, v in vars(obj).items() if not k.startswith("__"))
        return
    for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or (), strict=False):
        try:
            yield f"{path}.<closure {name}>", cell.cell_contents
        except ValueError:  # an empty cell
            continue
    for i, default in enumerate(obj.__defaults__ or ()):
        yield f"{path}.__defaults__[{i}]", default
    names: set[str] = set()
    codes = [obj.__code__]
    while codes:  # the globals it reads, its nested functions' included
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    module_globals = obj.__globals__
    for name in sorted(names):
        value = module_globals.get(name)
        if name in module_globals and not isinstance(value, types.ModuleType):
            yield f"{path}.<global {name}>", value


def _children(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
    """What pickle would pickle inside *obj*, each with a readable path."""
    if isinstance(obj, dict):
        for key, value in list(obj.items()):
            if not isinstance(key, _ATOMIC):
                yield f"{path}<key {short_repr(key, 40)}>", key
            yield f"{path}[{short_repr(key, 60)}]", value
        return
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(list(obj)):
            yield f"{path}[{i}]", value
        return
    if isinstance(obj, (set, frozenset)):
        for i, value in enumerate(list(obj)):
            yield f"{path}<item {i}>", value
        return
    reduce_ex: Callable[[int], Any] | None = getattr(obj, "__reduce_ex__", None)
    if reduce_ex is None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            reduced = reduce_ex(pickle.HIGHEST_PROTOCOL)
    except Exception:
        return  # the object itself refuses: it is the culprit
    if isinstance(reduced, str) or not isinstance(reduced, tuple):
        return  # pickled by name (a global); the name lookup is what fails
    func, args = reduced[0], reduced[1] if len(reduced) > 1 else ()
    state = reduced[2] if len(reduced) > 2 else None
    # copyreg.__newobj__(cls, *args): the class is pickled by name; show it as the type.
    for i, arg in enumerate(args or ()):
        if i == 0 and isinstance(arg, type) and arg is type(obj):
            yield f"{path}.__class__", arg
            continue
        yield f"{path}.__reduce__()[1][{i}]", arg
    if not isinstance(func, type) or func is not type(obj):
        yield f"{path}.__reduce__()[0]", func
    if (
        isinstance(state, tuple)
        and len(state) == 2
        and isinstance(state[0], (dict, type(None)))
        and isinstance(state[1], dict)
    ):  # (instance dict, slots dict): what object.__reduce_ex__ gives for __slots__
        inst_dict, slots = state
        if isinstance(inst_dict, dict):
            yield from ((f"{path}.{k}", v) for k, v in inst_dict.items())
        yield from ((f"{path}.{k}", v) for k, v in slots.items())
    elif isinstance(state, dict) and all(isinstance(k, str) for k in state):
        yield from ((f"{path}.{k}", v) for k, v in state.items())
    elif state is not None:
        yield f"{path}.__getstate__()", state
    if len(reduced) > 3 and reduced[3] is not None:
        for i, item in enumerate(list(reduced[3])):
            yield f"{path}[{i}]", item
    if len(reduced) > 4 and reduced[4] is not None:
        for key, value in list(reduced[4]):
            yield f"{path}[{short_repr(key, 60)}]", value


# --- the probe -------------------------------------------------------------------------------


def _main_module_problem(cls: type) -> str | None:
    """Why spawned workers cannot import *cls* from ``__main__``, or None if they can."""
    if cls.__module__ != "__main__":
        return None
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if main_file is None:
        return (
            f"the loader's class {cls.__qualname__} is defined in an interactive __main__ "
            "(a notebook, the REPL or python -c): spawned workers cannot import it by name"
        )
    try:
        with open(main_file, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), filename=main_file)
    except (OSError, SyntaxError, ValueError):
        return None  # cannot tell; the spawn dry run will
    if _has_main_guard(tree):
        return None
    return (
        f"the loader's class {cls.__qualname__} is defined in {main_file}, which has no "
        '`if __name__ == "__main__":` guard: every spawned worker re-runs the script and starts '
        "workers again, and fit() hangs"
    )


def _has_main_guard(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = [node.test.left, *node.test.comparators]
            texts = {ast.unparse(n) for n in names}
            if "__name__" in texts and ("'__main__'" in texts or '"__main__"' in texts):
                return True
    return False


def probe_pickling(ctx: ProbeContext) -> list[Finding]:
    """TSG101/TSG102/TSG103: the loader through multiprocessing's pickler, post-order walk."""
    target = ctx.loader
    severity = spawn_only_severity(ctx)
    when = _when(ctx)
    findings: list[Finding] = []
    cls = target if isinstance(target, (type, types.FunctionType)) else type(target)
    problem = _main_module_problem(cls) if isinstance(cls, type) else None
    if problem is None and isinstance(cls, types.FunctionType):
        problem = _main_module_problem_func(cls)
    if problem is not None:
        findings.append(
            make_finding(
                "TSG102", path="loader", message=f"{problem}; this {when}", severity=severity
            )
        )
    seconds = pickling_limit(ctx)
    out = call_once(functools.partial(_pickle_or_walk, target), seconds, "threadsafe_gen-pickling")
    if out is None:
        ctx.state.pickling_hangs = True
        return findings + failures.pickling_hang_finding(ctx, seconds, "the pickling probe")
    if out.error is not None:
        raise out.error  # a bug of the walk: the probe is reported as failed
    size, culprits = out.value
    if culprits:
        ctx.state.unpicklable = [u.path for u in culprits]
        findings += [culprit_finding(g, severity, when) for g in by_attribute(culprits)]
        return findings
    ctx.state.pickled_bytes = size
    if size >= LARGE_PAYLOAD_BYTES:
        findings.append(_payload_finding(ctx, size))
    return findings


def pickling_limit(ctx: ProbeContext) -> float:
    """Seconds pickling the loader may take: a call's timeout, or half the remaining budget
    when that is longer (a large loader legitimately takes seconds)."""
    return max(ctx.call_timeout(), ctx.remaining() / 2)


def _pickle_or_walk(target: Any) -> tuple[int, list[Unpicklable]]:
    """(pickled size, []) when *target* pickles, else (0, every culprit by path)."""
    try:
        return _dump(target), []
    except Exception as exc:
        culprits = find_unpicklable(target)
        if not culprits:  # the loader itself refuses (its own __reduce__ raised)
            error = f"{type(exc).__name__}: {exc}"
            culprits = [Unpicklable("loader", type_name(target), error, _GENERIC_HINT)]
        return 0, culprits


def _lint_twin(u: Unpicklable) -> bool:
    """Whether the linter reports this member as TSG151 (a lock, generator or lambda stored
    on the loader), so the check's finding names it and both tools agree (issue 10 item 10)."""
    if u.path == "loader":
        return False
    function = u.code == "TSG102" and u.type_name.startswith("function")
    return function or u.hint in (_LOCK_HINT, _GENERATOR_HINT)


_TOP_LEVEL = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*|\[[^\]]*\]|<[^>]*>)?")


def by_attribute(culprits: list[Unpicklable]) -> list[list[Unpicklable]]:
    """The culprits grouped by code and top-level attribute, in order: one tf.data object or
    connection on the loader is one finding, not one per internal (issue 10 item 8)."""
    groups: dict[tuple[str, str], list[Unpicklable]] = {}
    for u in culprits:
        match = _TOP_LEVEL.match(u.path)
        groups.setdefault((u.code, match.group(0) if match else u.path), []).append(u)
    return list(groups.values())


def culprit_finding(group: list[Unpicklable], severity: Severity, when: str) -> Finding:
    """TSG101/TSG102 for one group of :func:`by_attribute` (one top-level attribute); *when*
    says which worker setting it stops (``"stops training with the planned start method
    'spawn'"``)."""
    u = group[0]
    match = _TOP_LEVEL.match(u.path)
    top = match.group(0) if match else u.path
    more = (
        f" (and {len(group) - 1} more members of {top}: {some([g.path for g in group[1:]], 3)})"
        if len(group) > 1
        else ""
    )
    lint = "; `threadsafe-gen lint` reports such an attribute as TSG151" if _lint_twin(u) else ""
    return make_finding(
        u.code,
        path=u.path,
        message=(
            f"{u.path} ({u.type_name}) cannot be pickled ({one_line(u.error, 160)}){more}, "
            f"so workers started with 'spawn' or 'forkserver' cannot receive this "
            f"loader; this {when}{lint}"
        ),
        hint=u.hint,
        severity=severity,
        details={
            "type": u.type_name,
            "error": u.error,
            "attribute": top,
            "members": [g.path for g in group],
        },
    )


def _payload_finding(ctx: ProbeContext, size: int) -> Finding:
    """TSG103: the pickled loader is large, and every worker of every epoch receives it."""
    per_epoch = size * ctx.workers
    sev = (
        Severity.WARNING
        if ctx.use_multiprocessing and ctx.start_method != "fork"
        else Severity.INFO
    )
    return make_finding(
        "TSG103",
        path="loader",
        message=(
            f"the pickled loader is {_mib(size)}; spawn/forkserver workers receive a "
            f"copy each, and Keras rebuilds its pool every epoch: {ctx.workers} workers "
            f"x {_mib(size)} = {_mib(per_epoch)} pickled, sent and unpickled per epoch"
        ),
        severity=sev,
        details={"bytes": size, "workers": ctx.workers, "bytes_per_epoch": per_epoch},
    )


def _main_module_problem_func(func: types.FunctionType) -> str | None:
    if func.__module__ != "__main__":
        return None
    main = sys.modules.get("__main__")
    if getattr(main, "__file__", None) is None:
        return (
            f"the generator function {func.__qualname__} is defined in an interactive "
            "__main__: spawned workers cannot import it by name"
        )
    return None


def _when(ctx: ProbeContext) -> str:
    if not ctx.use_multiprocessing:
        return (
            "is harmless with worker threads (use_multiprocessing=False), but process workers "
            f"would need it: it {_SPAWN_NOTE}"
        )
    if ctx.start_method in ("spawn", "forkserver"):
        return f"stops training with the planned start method {ctx.start_method!r}"
    return f"works with 'fork' but {_SPAWN_NOTE}"


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


# --- the same failures, met by the spawn dry run in a real child -------------------------------------


def is_import_problem(err_type: str, message: str) -> bool:
    """Whether an error while sending or unpickling the loader means "cannot import by name"."""
    return (
        "<locals>" in message
        or "Can't get attribute" in message
        or "attribute lookup" in message
        or "local object" in message
        or err_type in ("ModuleNotFoundError", "ImportError")
    )


def send_failure_finding(
    error: BaseException, method: str, sev: Severity, elsewhere: str
) -> Finding:
    """TSG101/TSG102: multiprocessing could not pickle the loader to start a *method* worker."""
    text = f"{type(error).__name__}: {error}"
    code = "TSG102" if is_import_problem(type(error).__name__, str(error)) else "TSG101"
    return make_finding(
        code,
        path="loader",
        severity=sev,
        message=(
            f"Sending the loader to a {method} worker{elsewhere} failed with {one_line(text)}: "
            "Keras' process pool sends it the same way, so training would stop at its "
            "first batch"
        ),
        details={
            "start_method": method,
            "exception_type": type(error).__name__,
            "exception_message": str(error),
        },
    )


def import_failure_finding(
    err: dict[str, str], method: str, sev: Severity, elsewhere: str
) -> Finding:
    """TSG102: a *method* worker could not import the loader's class to unpickle it."""
    short_type = err["type"].rpartition(".")[2]
    return make_finding(
        "TSG102",
        path="loader",
        severity=sev,
        message=(
            f"A {method} worker{elsewhere} could not unpickle the loader: {short_type}: "
            f"{one_line(err['message'])}. The worker imports the loader's class by name, "
            "and it is not importable there"
        ),
        details={"start_method": method, **exception_details(err)},
    )


def unguarded_main_finding(method: str, sev: Severity, elsewhere: str) -> Finding:
    """TSG102: a *method* worker re-ran the main script up to check_loader() (no main guard)."""
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


def _note(ctx: ProbeContext) -> str:
    size = ctx.state.pickled_bytes
    return f"{size} bytes pickled" if size is not None else ""


PROBES = (
    Probe(
        "pickling",
        probe_pickling,
        records=("unpicklable", "pickled_bytes", "pickling_hangs", "cut_short"),
        note=_note,
    ),
)
