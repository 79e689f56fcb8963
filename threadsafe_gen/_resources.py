"""Per-process and per-thread resources: the answer to "where do I open my connection?".

``per_process(factory)`` / ``per_thread(factory)`` return :class:`PerProcess` /
:class:`PerThread` objects. As a class attribute of a Sequence/PyDataset they work as a
descriptor: ``self.db`` is *this process's* (or this thread's) object, created lazily on first
use, never inherited from a parent across ``fork()`` and never pickled with the loader.
"""

from __future__ import annotations

import atexit
import inspect
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast, overload

from ._locks import Lock
from ._text import short_repr
from .errors import PicklingRefusedError, ThreadsafeGenWarning

__all__ = ["PerProcess", "PerThread", "per_process", "per_thread"]

T = TypeVar("T")

# NOTE [ Resource keys and fork ]
# Objects live in a _Slot: one per owner instance (stored in the instance's __dict__ under a
# private name) or one per standalone resource. A slot maps a key to the object: the pid for
# PerProcess, (pid, thread ident) for PerThread. _PID is refreshed by an after-fork hook, so
# the hot path compares integers instead of calling os.getpid() (a syscall on glibc >= 2.25).
# A forked child misses on the parent's key and creates its own object; the parent's object
# stays referenced in the slot (as long as the owner lives) and the child never runs the close
# callback on it (closing a client socket or a libpq connection from the child would end the
# parent's session). Per-thread objects of the parent's other threads stay referenced too,
# although CPython frees those threads' thread-local storage in the child.
# A slot pickles as an empty slot, so an owner pickled to a spawn worker arrives without the
# parent's objects and creates its own on first use.
# close callbacks run only for objects created in the current process: on close_all(), at
# interpreter exit (atexit), at the exit of a multiprocessing child (its util.Finalize
# hooks; fork-started workers skip atexit), for PerThread when the creating thread ends
# (its threading.local storage is released in that very thread, so thread-bound objects such
# as sqlite3 connections can close there), and when the owner instance is garbage-collected
# (_Slot.__del__: no one can reach its objects any more, and Python 3.13 warns about every
# sqlite3 connection dropped unclosed). A __del__, not a weakref.finalize holding the objects:
# an object that refers back to its owner would then keep the owner alive for ever. There,
# PerThread closes only the collecting thread's objects: another thread's may be bound to that
# thread (sqlite3), and are dropped as before.
_PID = os.getpid()


def _after_fork_in_child() -> None:
    global _PID
    _PID = os.getpid()
    _EXIT_HOOKED.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

_MISSING: Any = object()
# Per thread: the slots whose factory this thread is running now (re-entry is refused).
_BUILDING = threading.local()


def _building() -> set[_Slot]:
    slots: set[_Slot] | None = getattr(_BUILDING, "slots", None)
    if slots is None:
        slots = _BUILDING.slots = set()
    return slots


_RESOURCES: weakref.WeakSet[_Resource[Any]] = weakref.WeakSet()
_EXIT_HOOKED: set[int] = set()  # pids whose exit hooks are installed


def _close_everything() -> None:
    for resource in list(_RESOURCES):
        for exc in resource._close_created_here(raise_errors=False):
            msg = (
                f"threadsafe_gen could not close an object of {resource!r} at process exit: "
                f"{type(exc).__name__}: {exc}"
            )
            warnings.warn(msg, ThreadsafeGenWarning, stacklevel=1)


def _hook_exit() -> None:
    # Installed once per process, at the first object created there.
    if _PID in _EXIT_HOOKED:
        return
    _EXIT_HOOKED.add(_PID)
    atexit.register(_close_everything)
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.parent_process() is not None:
        # A worker started by multiprocessing: fork-started ones end with os._exit() and skip
        # atexit, but they run multiprocessing's own finalizers first.
        from multiprocessing import util

        util.Finalize(None, _close_everything, exitpriority=10)


class _Slot:
    """Where one owner's objects live; pickles as an empty slot.

    See NOTE [ Resource keys and fork ].
    """

    __slots__ = ("__weakref__", "closer", "lock", "values")

    def __init__(self) -> None:
        self.values: dict[Any, Any] = {}
        self.lock = Lock()  # serialises creation; fork-safe, see _locks
        self.closer: _Resource[Any] | None = None  # the resource whose objects these are

    def __del__(self) -> None:
        # The owner (or the standalone resource) was collected: NOTE [ Resource keys and fork ].
        if self.closer is not None and self.values:
            self.closer._close_dropped(self.values)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Slot, ())

    def __repr__(self) -> str:
        return f"<threadsafe_gen resource slot with {len(self.values)} object(s)>"


def _takes_owner(factory: Callable[..., Any]) -> bool:
    """True if factory needs one positional argument (the owner), False if it needs none."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins have no signature: call them bare
        return False
    required = [
        p
        for p in sig.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(required) > 1:
        msg = (
            f"per_process()/per_thread() expected a factory taking no argument, or one (the "
            f"owner, e.g. the dataset instance), got {factory!r} with signature {sig}. "
            f"Bind the other arguments with functools.partial."
        )
        raise TypeError(msg)
    return len(required) == 1


def _callable_name(obj: object) -> str:
    module = getattr(obj, "__module__", None)
    if module is None:  # methods of C types, e.g. sqlite3.Connection.close
        module = getattr(getattr(obj, "__objclass__", None), "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if qualname is None:
        return short_repr(obj)
    return f"{module}.{qualname}" if module else str(qualname)


class _Resource(Generic[T]):
    _kind = "resource"
    _maker = "resource"

    def __init__(
        self,
        factory: Callable[[], T] | Callable[[Any], T],
        *,
        close: Callable[[T], object] | None = None,
    ) -> None:
        if not callable(cast(object, factory)):  # untyped callers
            msg = (
                f"{self._maker}() expected a callable factory, got {factory!r} "
                f"(type={type(factory).__name__}). Pass the function that creates the object, "
                f"e.g. {self._maker}(open_db), not open_db()."
            )
            raise TypeError(msg)
        if close is not None and not callable(cast(object, close)):
            msg = (
                f"{self._maker}() expected close to be a callable or None, got {close!r} "
                f"(type={type(close).__name__})"
            )
            raise TypeError(msg)
        self._factory = factory
        self._close = close
        self._takes_owner = _takes_owner(factory)
        self._name: str | None = None
        self._attr = f"_tsg_res_{id(self)}"
        self._standalone = _Slot()
        self._slots: weakref.WeakSet[_Slot] = weakref.WeakSet()
        self._slots.add(self._standalone)
        self._local = threading.local()
        _RESOURCES.add(self)

    # --- keys and creation (see NOTE [ Resource keys and fork ]) -------------------------

    def _key(self) -> Any:
        raise NotImplementedError

    def _lookup(self, slot: _Slot, owner: object) -> T:
        value = slot.values.get(self._key(), _MISSING)
        if value is _MISSING:
            return self._create(slot, owner)
        return value  # type: ignore[no-any-return]

    def _create(self, slot: _Slot, owner: object) -> T:
        building = _building()
        if slot in building:
            # The factory asked for the object it is building: waiting for slot.lock, which
            # this very thread holds, would hang for ever.
            raise self._reentry_error()
        with slot.lock:
            key = self._key()
            value = slot.values.get(key, _MISSING)
            if value is _MISSING:  # re-check: another thread may have created it meanwhile
                building.add(slot)
                try:
                    value = self._call_factory(owner)
                finally:
                    building.discard(slot)
                slot.values[key] = value
                slot.closer = self
                self._slots.add(slot)
                self._created(slot, key)
                _hook_exit()
        return value  # type: ignore[no-any-return]

    def _call_factory(self, owner: object) -> T:
        if not self._takes_owner:
            return self._factory()  # type: ignore[call-arg]
        if owner is None:
            msg = (
                f"{self!r} has a factory that takes the owner instance, so it only "
                f"works as a class attribute (self.<name>), not through .get(). "
                f"Use a factory without arguments for a standalone resource."
            )
            raise TypeError(msg)
        return self._factory(owner)  # type: ignore[call-arg]

    def _reentry_error(self) -> RuntimeError:
        where = "thread" if self._kind == "per-thread" else "process"
        msg = (
            f"{self._name or repr(self)} was read by its own factory "
            f"{_callable_name(self._factory)} while that factory was creating this {where}'s "
            "object: the factory would wait for itself for ever (a deadlock), so this is "
            "refused. Build the object from scratch inside the factory, without reading "
            f"{self._name or 'the resource'} (a factory that takes the owner receives it as "
            "its argument: read the owner's other attributes, not this one)."
        )
        return RuntimeError(msg)

    def _created(self, slot: _Slot, key: Any) -> None:
        """Hook for PerThread: arrange the close at thread end."""

    def _slot_of(self, instance: object) -> _Slot:
        try:
            store = instance.__dict__
        except AttributeError:
            msg = (
                f"{self!r} needs instances with a __dict__ to keep their objects, but "
                f"{type(instance).__name__} has none (it defines __slots__). Add '__dict__' to "
                f"its __slots__, or use a standalone resource and call .get()."
            )
            raise TypeError(msg) from None
        slot = store.get(self._attr)
        if slot is None:
            slot = store.setdefault(self._attr, _Slot())  # atomic: one slot wins
        return slot  # type: ignore[no-any-return]

    # --- public API ------------------------------------------------------------------------

    def get(self) -> T:
        """Return this process's (or thread's) object, creating it on first use."""
        return self._lookup(self._standalone, None)

    def close_all(self) -> None:
        """Run the close callback on every object created in *this* process, and forget them.

        Objects inherited from a parent process across ``fork()`` are left alone (they belong
        to the parent). The next access creates a new object.

        Raises:
            Exception: the first error raised by the close callback, after every object was
                attempted.
        """
        self._close_created_here(raise_errors=True)

    def _owns(self, key: Any) -> bool:
        raise NotImplementedError

    def _closable_here(self, key: Any) -> bool:
        """Whether this thread may close the object under `key` (PerThread narrows it)."""
        return self._owns(key)

    def _close_values(
        self, values: dict[Any, Any], closable: Callable[[Any], bool]
    ) -> list[BaseException]:
        """Pop and close the objects whose key is `closable`; return the errors raised."""
        errors: list[BaseException] = []
        for key in [k for k in list(values) if closable(k)]:
            value = values.pop(key, _MISSING)
            if value is _MISSING or self._close is None:
                continue
            try:
                self._close(value)
            except Exception as exc:  # every object gets its close; the first error is raised
                errors.append(exc)
        return errors

    def _close_dropped(self, values: dict[Any, Any]) -> None:
        """The owner instance was garbage-collected: close its objects (NOTE [ Resource keys
        and fork ]). Errors become warnings: this runs inside the garbage collector."""
        for exc in self._close_values(values, self._closable_here):
            msg = (
                f"threadsafe_gen could not close an object of {self!r} whose owner was "
                f"garbage-collected: {type(exc).__name__}: {exc}"
            )
            warnings.warn(msg, ThreadsafeGenWarning, stacklevel=1)

    def _close_created_here(self, *, raise_errors: bool) -> list[BaseException]:
        errors: list[BaseException] = []
        for slot in list(self._slots):
            errors += self._close_values(slot.values, self._owns)
        if errors and raise_errors:
            raise errors[0]
        return errors

    # --- descriptor protocol -------------------------------------------------------------

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = f"{owner.__qualname__}.{name}"
        self._attr = f"_tsg_res_{name}"

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _Resource[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> T | _Resource[T]:
        if instance is None:
            return self
        try:  # the hot path: one dict lookup in the instance, one in its slot
            return instance.__dict__[self._attr].values[self._key()]  # type: ignore[no-any-return]
        except (KeyError, AttributeError):
            return self._lookup(self._slot_of(instance), instance)

    def __set__(self, instance: object, value: object) -> None:
        msg = (
            f"{self._name or 'this attribute'} is a {self._kind} resource: each process"
            f"{' and thread' if self._kind == 'per-thread' else ''} creates its own object on "
            f"first use, so it cannot be assigned. Change the factory given to {self._maker}(), "
            f"or use `del obj.attr` to close and re-create it."
        )
        raise AttributeError(msg)

    def __delete__(self, instance: object) -> None:
        slot = self._slot_of(instance)
        value = slot.values.pop(self._key(), _MISSING)
        if value is not _MISSING and self._close is not None:
            self._close(value)

    # --- pickling and repr -----------------------------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        for part in (self._factory, self._close):
            qualname = getattr(part, "__qualname__", "")
            if "<lambda>" in qualname or "<locals>" in qualname:
                msg = (
                    f"{self!r} cannot be pickled: {_callable_name(part)} is a lambda or a local "
                    f"function, which a spawn or forkserver worker cannot import by name. "
                    f"Define it at module level (or use functools.partial of one); as a class "
                    f"attribute the resource is never pickled, so any factory works there."
                )
                raise PicklingRefusedError(msg)
        return (_rebuild, (type(self), self._factory, self._close))

    def __repr__(self) -> str:
        where = f" for {self._name}" if self._name else ""
        close = f", close={_callable_name(self._close)}" if self._close is not None else ""
        return f"{self._maker}({_callable_name(self._factory)}{close}){where}"


def _rebuild(
    cls: type[_Resource[Any]], factory: Callable[..., Any], close: Callable[[Any], object] | None
) -> _Resource[Any]:
    return cls(factory, close=close)


class PerProcess(_Resource[T]):
    """One object per process, created lazily; see :func:`per_process`."""

    _kind = "per-process"
    _maker = "per_process"

    def _key(self) -> Any:
        return _PID

    def _owns(self, key: Any) -> bool:
        return bool(key == _PID)


def _close_thread_objects(
    slots: list[weakref.ReferenceType[_Slot]],
    key: tuple[int, int],
    close: Callable[[Any], object] | None,
) -> None:
    # Runs when the thread's local storage is released: in that thread when it ends (or at
    # interpreter exit for the main thread). In a forked child CPython also releases the
    # storage of the parent's other threads, BEFORE the after-fork hooks refresh _PID: hence
    # os.getpid() here. Their key carries the parent's pid, so their objects are left alone.
    if key[0] != os.getpid():
        return
    for ref in slots:
        slot = ref()
        if slot is None:
            continue
        value = slot.values.pop(key, _MISSING)
        if value is not _MISSING and close is not None:
            close(value)


class _ThreadToken:
    __slots__ = ("__weakref__", "pid", "slots")

    def __init__(self) -> None:
        self.pid = _PID
        self.slots: list[weakref.ReferenceType[_Slot]] = []


class PerThread(_Resource[T]):
    """One object per thread (and process), created lazily; see :func:`per_thread`."""

    _kind = "per-thread"
    _maker = "per_thread"

    def _key(self) -> Any:
        return (_PID, threading.get_ident())

    def _owns(self, key: Any) -> bool:
        return bool(key[0] == _PID)

    def _closable_here(self, key: Any) -> bool:
        return bool(key == (_PID, threading.get_ident()))

    def _created(self, slot: _Slot, key: Any) -> None:
        # Even without a close callback the thread's objects are dropped when it ends.
        token: _ThreadToken | None = getattr(self._local, "token", None)
        if token is None or token.pid != _PID:
            token = _ThreadToken()
            self._local.token = token
            weakref.finalize(token, _close_thread_objects, token.slots, key, self._close)
        token.slots.append(weakref.ref(slot))


def per_process(
    factory: Callable[[], T] | Callable[[Any], T], *, close: Callable[[T], object] | None = None
) -> PerProcess[T]:
    """One object per process, created on first use: a fork-safe home for connections.

    Use it for anything a worker process must open itself: database connections, HTTP
    sessions, file handles. As a class attribute of a Sequence/PyDataset, ``self.db`` gives
    this process's object for that instance; a forked worker never reuses its parent's
    object, and the instance pickles without it (a spawn worker opens its own). Standalone,
    call ``.get()``.

    The object may be used by several threads of the process at once, so it must be
    thread-safe (Keras calls ``__getitem__`` from a tf.data thread even with workers=1): open
    SQLite with ``check_same_thread=False, cached_statements=0`` (from Python 3.12 on, threads
    sharing a connection's statement cache get errors or missing rows, CPython gh-118172), or
    use :func:`per_thread`.

    Args:
        factory: creates the object. Takes no argument, or one: the owner instance when used
            as a class attribute (e.g. to read ``self.path``). Must be importable by name
            (module-level function or functools.partial of one) only if a *standalone*
            resource is pickled; a class attribute is never pickled.
        close: called with each object created in this process by :meth:`PerProcess.close_all`,
            ``del instance.attr``, when the owner instance is garbage-collected, and at process
            exit (interpreter exit, or the end of a multiprocessing worker). Never called on an
            object inherited across ``fork()``.

    Returns:
        A :class:`PerProcess` descriptor / standalone resource.

    Raises:
        TypeError: *factory* or *close* is not callable, or *factory* needs more than one
            argument.

    Example:
        >>> import sqlite3
        >>> import threadsafe_gen as tsg
        >>> class Rows:
        ...     db = tsg.per_process(
        ...         lambda self: sqlite3.connect(
        ...             self.path, check_same_thread=False, cached_statements=0
        ...         ),
        ...         close=sqlite3.Connection.close,
        ...     )
        ...     def __init__(self, path):
        ...         self.path = path
        ...     def __getitem__(self, i):
        ...         return self.db.execute("SELECT ?", (i,)).fetchone()[0]
        >>> rows = Rows(":memory:")
        >>> rows[3], rows.db is rows.db
        (3, True)
        >>> Rows.db.close_all()
    """
    return PerProcess(factory, close=close)


def per_thread(
    factory: Callable[[], T] | Callable[[Any], T], *, close: Callable[[T], object] | None = None
) -> PerThread[T]:
    """One object per thread (and per process), created on first use.

    Use it for objects that must not be shared between threads: SQLite connections with the
    default ``check_same_thread=True``, non-thread-safe client sessions, parsers with state.
    Works like :func:`per_process` (descriptor or ``.get()``), keyed by thread as well, so a
    thread of a forked child never reuses its parent's object either.

    Args:
        factory: creates the object; no argument, or the owner instance (class attribute).
        close: called with the object when the thread that created it ends (in that
            thread), and by :meth:`PerThread.close_all`, ``del instance.attr``, when the owner
            instance is garbage-collected (for the objects of the collecting thread) and at
            process exit for objects created in this process. Never called on an object
            inherited across ``fork()``.

    Returns:
        A :class:`PerThread` descriptor / standalone resource.

    Raises:
        TypeError: *factory* or *close* is not callable, or *factory* needs more than one
            argument.

    Example:
        >>> import threading
        >>> import threadsafe_gen as tsg
        >>> buffers = tsg.per_thread(bytearray)
        >>> mine = buffers.get()
        >>> other = []
        >>> t = threading.Thread(target=lambda: other.append(buffers.get()))
        >>> t.start(); t.join()
        >>> mine is buffers.get(), mine is other[0]
        (True, False)
    """
    return PerThread(factory, close=close)
