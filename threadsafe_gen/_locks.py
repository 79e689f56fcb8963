"""Picklable, fork-safe synchronisation primitives.

:class:`Lock`, :class:`RLock`, :class:`Condition`, :class:`Semaphore`,
:class:`BoundedSemaphore` and :class:`Event` behave like their :mod:`threading` namesakes,
and in addition:

* they pickle to a *fresh* primitive (so a loader that holds one can travel to a ``spawn``
  or ``forkserver`` worker), and refuse with
  :class:`~threadsafe_gen.errors.PicklingRefusedError` while they are held;
* they are re-created in a forked child, so a lock that another thread held at the moment
  of ``fork()`` cannot deadlock the child (docs/failure-modes.md row 2a': Keras 3 hangs forever).
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar, NoReturn, cast

from .errors import PicklingRefusedError

__all__ = ["BoundedSemaphore", "Condition", "Event", "Lock", "RLock", "Semaphore", "is_held"]

# NOTE [ Fork re-creation ]
# Every proxy registers itself in a WeakSet; one os.register_at_fork(after_in_child=...) hook
# re-creates the inner primitive of each live proxy in the child. Only the forking thread
# exists in the child, so this is the only thread running during the hook and needs no lock.
# Locks are re-created before Conditions, because a Condition copies its lock's bound
# methods (threading.Condition.__init__ does `self.acquire = lock.acquire`).
# The hot path (acquire/release/with) costs nothing extra: acquire and release are the inner
# lock's own C bound methods stored in slots, and __enter__/__exit__ are C-level property
# getters returning the inner lock's bound methods, so no Python frame runs per `with`.
# A pid check on every acquire (the alternative) measured 2.5x the cost of a raw `with lock`.
# `with` fetches __exit__ when it enters, so a `with` block entered before fork exits through
# the OLD inner lock in the child; explicit release() calls reach the new one. Hence:
#   * Lock / RLock: fresh and unlocked in the child, whoever held them at fork (no other
#     thread of the parent exists there to release them). If the forking thread held one,
#     that many release() calls finding it unheld are accepted instead of raising, so its
#     blocks and explicit releases unwind cleanly (the rest of such a block is not protected
#     in the child, which has no other thread until it starts one).
#   * Semaphore / BoundedSemaphore: back to the initial value; releases of permits that were
#     held at fork are absorbed instead of raising (bounded) or over-counting.
#   * Condition: fresh waiters list, same (re-created) lock. Event: keeps its flag.
_LIVE_LOCKS: weakref.WeakSet[_LockProxy] = weakref.WeakSet()
_LIVE_OTHERS: weakref.WeakSet[Condition | Semaphore | Event] = weakref.WeakSet()


def _reinit_after_fork() -> None:
    # Snapshot first: re-creating must not run while the WeakSet is being iterated.
    for lock in list(_LIVE_LOCKS):
        lock._self_after_fork()
    for other in list(_LIVE_OTHERS):
        other._self_after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_reinit_after_fork)


def is_held(lock: Any) -> bool:
    """Whether some thread holds *lock* now: any lock of ``threading``, ``_thread`` or ours.

    Never raises: a lock-like object whose ``locked()`` fails counts as not held.
    """
    locked = getattr(lock, "locked", None)
    if callable(locked):  # Lock, our proxies, and RLock from Python 3.14
        try:
            return bool(locked())
        except Exception:
            return False
    # RLock before 3.14 has no locked(); its repr says "<locked ...>" or "<unlocked ...>".
    return repr(lock).startswith("<locked")


def _recursion_count(rlock: Any) -> int:
    count = getattr(rlock, "_recursion_count", None)
    if count is not None:  # Python >= 3.11
        return int(count())
    match = re.search(r"count=(\d+)", repr(rlock))  # 3.10: only the repr tells
    return int(match.group(1)) if match else 1


def _refuse_held(what: str, state: str) -> NoReturn:
    msg = (
        f"threadsafe_gen.{what} cannot be pickled while it is held ({state}). "
        f"A copy in another process would start free while this process still holds it, "
        f"so the two would not exclude each other. "
        f"Pickle it (or the loader holding it, e.g. when Keras starts spawn workers) only "
        f"while no thread holds it: outside `with lock:` blocks."
    )
    raise PicklingRefusedError(msg)


class _LockProxy:
    """What :class:`Lock` and :class:`RLock` share: the inner lock's own methods in slots.

    A subclass says how to make its inner lock (``_self_new``) and how to re-create it in a
    forked child (``_self_after_fork``); see NOTE [ Fork re-creation ].
    """

    __slots__ = (
        "__weakref__",
        "_self_enter",
        "_self_exit",
        "_self_lock",
        "acquire",
        "release",
    )

    _self_kind: ClassVar[str]
    _self_new: ClassVar[staticmethod[[], Any]]  # makes the inner lock
    acquire: Callable[..., bool]
    release: Callable[[], None]
    locked: Callable[[], bool]

    def __init__(self) -> None:
        self._self_bind(self._self_new())
        _LIVE_LOCKS.add(self)

    def _self_bind(self, inner: Any) -> None:
        self._self_lock = inner
        self.acquire = inner.acquire
        self.release = inner.release
        self._self_enter = inner.__enter__
        self._self_exit = inner.__exit__

    # `with` looks __enter__/__exit__ up on the type; a property over attrgetter is all C, so
    # the inner lock's bound methods are called with no Python frame in between.
    __enter__ = property(attrgetter("_self_enter"))
    __exit__ = property(attrgetter("_self_exit"))

    def _self_after_fork(self) -> None:
        raise NotImplementedError

    def _self_forgive(self) -> None:
        # The forking thread held the lock: its releases in the child are accepted.
        self.release = self._self_forgiving_release
        self._self_exit = self._self_forgiving_exit

    def _self_unforgive(self) -> None:
        self.release = self._self_lock.release
        self._self_exit = self._self_lock.__exit__

    def _self_forgiving_release(self) -> None:
        raise NotImplementedError

    def _self_forgiving_exit(self, *exc_info: object) -> None:
        self._self_forgiving_release()

    def __reduce__(self) -> tuple[Any, ...]:
        if self.locked():
            _refuse_held(self._self_kind, "locked")
        return (type(self), ())

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<threadsafe_gen.{self._self_kind} {state}>"


class Lock(_LockProxy):
    """A :func:`threading.Lock` that pickles and survives ``fork()``.

    Use it wherever a loader needs a lock and may be sent to process workers: a raw
    ``threading.Lock`` on a loader fails under ``spawn``/``forkserver`` with
    ``TypeError: cannot pickle '_thread.lock' object``, and under ``fork`` hangs the child
    when another thread held it at the moment of the fork.

    Behaves like :func:`threading.Lock`: ``acquire(blocking=True, timeout=-1) -> bool``,
    ``release()``, ``locked()`` and the context manager, at the same cost (they are the
    inner lock's own methods). Pickling gives a fresh unlocked lock; pickling while held
    raises :class:`~threadsafe_gen.errors.PicklingRefusedError`. In a forked child the lock is
    fresh and unlocked, whoever held it at fork; if the forking thread held it, its ``with``
    block still exits without error (NOTE [ Fork re-creation ] in the source has the rules).

    Example:
        >>> import pickle
        >>> import threadsafe_gen as tsg
        >>> lock = tsg.Lock()
        >>> with lock:
        ...     lock.locked()
        True
        >>> pickle.loads(pickle.dumps(lock))
        <threadsafe_gen.Lock unlocked>
    """

    __slots__ = ("locked",)

    _self_kind = "Lock"
    _self_new = staticmethod(threading.Lock)

    def _self_bind(self, inner: Any) -> None:
        super()._self_bind(inner)
        self.locked = inner.locked

    def _self_after_fork(self) -> None:
        was_locked = self._self_lock.locked()
        self._self_bind(self._self_new())
        if was_locked:
            self._self_forgive()

    def _self_forgiving_release(self) -> None:
        inner = self._self_lock
        if not inner.locked():
            # The release of a hold taken before fork: accept it once, then go back to the
            # plain fast path. See NOTE [ Fork re-creation ].
            self._self_unforgive()
            return
        inner.release()


class RLock(_LockProxy):
    """A :func:`threading.RLock` (reentrant lock) that pickles and survives ``fork()``.

    Use it where the same thread may take the lock again (e.g. a method calling another
    method that locks too). Behaves like :func:`threading.RLock`: ``acquire``, ``release``
    and the context manager are the inner lock's own methods. It also has ``locked()``
    (``threading.RLock`` gains it only in Python 3.14): True when any thread holds it.

    Pickling gives a fresh unlocked RLock; pickling while any thread holds it (at any
    recursion depth) raises :class:`~threadsafe_gen.errors.PicklingRefusedError`. In a forked
    child it is fresh and unlocked; if the forking thread held it, its ``with`` blocks and
    releases still unwind without error.

    Example:
        >>> import threadsafe_gen as tsg
        >>> lock = tsg.RLock()
        >>> with lock, lock:
        ...     lock.locked()
        True
        >>> lock
        <threadsafe_gen.RLock unlocked>
    """

    __slots__ = ("_acquire_restore", "_is_owned", "_release_save", "_self_credit")

    _self_kind = "RLock"
    _self_new = staticmethod(threading.RLock)
    # threading.Condition uses these three when present; a Condition over an RLock needs them
    # to release every recursion level in wait().
    _is_owned: Callable[[], bool]
    _release_save: Callable[[], Any]
    _acquire_restore: Callable[[Any], None]

    def _self_bind(self, inner: Any) -> None:
        super()._self_bind(inner)
        self._is_owned = inner._is_owned
        self._release_save = inner._release_save
        self._acquire_restore = inner._acquire_restore

    def locked(self) -> bool:
        """Return True if any thread holds this lock (like ``threading.RLock.locked`` in 3.14)."""
        # Before 3.14 the count is only visible in the repr ("<locked _thread.RLock ...>");
        # reading it has no side effect, unlike a trial acquire() that could make another
        # thread's non-blocking acquire fail. is_held() reads whichever the version has.
        return is_held(self._self_lock)

    def _self_after_fork(self) -> None:
        old = self._self_lock
        # The forking thread keeps its identity in the child, so _is_owned() still answers
        # for it; the holds of every other thread vanish with those threads.
        owned = _recursion_count(old) if old._is_owned() else 0
        self._self_bind(self._self_new())
        self._self_credit = owned
        if owned:
            self._self_forgive()

    def _self_forgiving_release(self) -> None:
        inner = self._self_lock
        if not inner._is_owned() and self._self_credit:
            # A release of a hold taken before fork. See NOTE [ Fork re-creation ].
            self._self_credit -= 1
            if not self._self_credit:
                self._self_unforgive()
            return
        inner.release()


class Condition(threading.Condition):
    """A :class:`threading.Condition` that pickles and survives ``fork()``.

    Use it for producer/consumer hand-offs inside a loader that may be sent to process
    workers. It has every method of :class:`threading.Condition` (``wait``, ``wait_for``,
    ``notify``, ``notify_all``, the context manager).

    Args:
        lock: a :class:`Lock` or :class:`RLock` from this module to share with other
            objects; a new :class:`RLock` when omitted (as in :mod:`threading`).

    Raises:
        TypeError: *lock* is not one of our lock proxies (a raw ``threading`` lock could
            neither be pickled nor re-created after fork).

    Pickling gives a fresh Condition over a fresh lock of the same kind (shared with the other
    objects pickled together with it); pickling while its lock is held raises
    :class:`~threadsafe_gen.errors.PicklingRefusedError`. In a forked child its waiters are
    dropped and its lock is re-created.

    Example:
        >>> import threadsafe_gen as tsg
        >>> cond = tsg.Condition()
        >>> with cond:
        ...     cond.wait_for(lambda: True, timeout=0.1)
        True
    """

    def __init__(self, lock: Lock | RLock | None = None) -> None:
        if lock is None:
            lock = RLock()
        elif not isinstance(cast(object, lock), (Lock, RLock)):  # untyped callers
            msg = (
                f"threadsafe_gen.Condition() expected a threadsafe_gen.Lock or RLock, got "
                f"{lock!r} (type={type(lock).__name__}). A raw threading lock can be neither "
                f"pickled nor re-created after fork. Pass threadsafe_gen.Lock() or "
                f"threadsafe_gen.RLock(), or nothing for a new RLock."
            )
            raise TypeError(msg)
        self._self_lock: Lock | RLock = lock
        super().__init__(lock)  # type: ignore[arg-type]  # duck-typed like threading's own
        _LIVE_OTHERS.add(self)

    def _self_after_fork(self) -> None:
        # The lock proxy was re-created first (NOTE [ Fork re-creation ]); bind to its new
        # methods and start with no waiters: the waiting threads do not exist in the child.
        super().__init__(self._self_lock)  # type: ignore[arg-type]

    def __reduce__(self) -> tuple[Any, ...]:
        if self._self_lock.locked():
            _refuse_held("Condition", "its lock is locked")
        return (type(self), (self._self_lock,))

    def __repr__(self) -> str:
        return f"<threadsafe_gen.Condition lock={self._self_lock!r} waiters={len(self._waiters)}>"  # type: ignore[attr-defined]


def _check_value(kind: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = (
            f"threadsafe_gen.{kind}() expected an int value >= 0, got value={value!r} "
            f"(type={type(value).__name__})"
        )
        raise TypeError(msg)
    if value < 0:
        msg = f"threadsafe_gen.{kind}() expected a value >= 0, got value={value!r}"
        raise ValueError(msg)
    return value


class Semaphore(threading.Semaphore):
    """A :class:`threading.Semaphore` that pickles and survives ``fork()``.

    Use it to bound concurrent access (e.g. at most 2 open files per process) in a loader
    that may be sent to process workers. It has every method of
    :class:`threading.Semaphore`.

    Args:
        value: the initial number of permits (>= 0).

    Raises:
        TypeError: *value* is not an int.
        ValueError: *value* is negative.

    Pickling gives a fresh semaphore with the *initial* value: permits are per process, and a
    copy of the current count would double-count permits held here. Pickling while a permit
    is held (value below the initial value) raises
    :class:`~threadsafe_gen.errors.PicklingRefusedError`. In a forked child it starts again at
    the initial value, and releases of permits held at fork are absorbed.

    Example:
        >>> import pickle
        >>> import threadsafe_gen as tsg
        >>> sem = tsg.Semaphore(2)
        >>> with sem:
        ...     sem
        <threadsafe_gen.Semaphore value=1 initial=2>
        >>> pickle.loads(pickle.dumps(sem))
        <threadsafe_gen.Semaphore value=2 initial=2>
    """

    _self_kind = "Semaphore"

    def __init__(self, value: int = 1) -> None:
        self._self_initial = _check_value(self._self_kind, value)
        self._self_credit = 0
        super().__init__(self._self_initial)
        _LIVE_OTHERS.add(self)

    def _self_value(self) -> int:
        return int(self._value)  # threading's own counter

    def release(self, n: int = 1) -> None:
        """Release *n* permits, waking waiting threads (as :meth:`threading.Semaphore.release`)."""
        if self._self_credit:  # only after a fork with permits held; rare
            n = self._self_absorb(n)
            if n == 0:
                return
        super().release(n)

    def _self_absorb(self, n: int) -> int:
        with self._cond:  # type: ignore[attr-defined]
            excess = self._self_value() + n - self._self_initial
            absorbed = min(max(excess, 0), self._self_credit)
            self._self_credit -= absorbed
        return n - absorbed

    def _self_after_fork(self) -> None:
        held = self._self_initial - self._self_value()
        super().__init__(self._self_initial)
        self._self_credit = max(held, 0)

    def __reduce__(self) -> tuple[Any, ...]:
        value = self._self_value()
        if value < self._self_initial:
            _refuse_held(
                self._self_kind, f"{self._self_initial - value} of {self._self_initial} permits"
            )
        return (type(self), (self._self_initial,))

    def __repr__(self) -> str:
        return (
            f"<threadsafe_gen.{self._self_kind} value={self._self_value()} "
            f"initial={self._self_initial}>"
        )


class BoundedSemaphore(Semaphore, threading.BoundedSemaphore):
    """A :class:`threading.BoundedSemaphore` that pickles and survives ``fork()``.

    Like :class:`Semaphore`, but ``release()`` beyond the initial value raises
    :class:`ValueError`, which catches a release without a matching acquire.

    Args:
        value: the initial (and maximum) number of permits (>= 0).

    Raises:
        TypeError: *value* is not an int.
        ValueError: *value* is negative; or, from ``release()``, too many releases.

    Example:
        >>> import threadsafe_gen as tsg
        >>> sem = tsg.BoundedSemaphore(1)
        >>> sem.release()
        Traceback (most recent call last):
        ...
        ValueError: Semaphore released too many times
    """

    _self_kind = "BoundedSemaphore"


def _rebuild_event(cls: type[Event], is_set: bool) -> Event:
    event = cls()
    if is_set:
        event.set()
    return event


class Event(threading.Event):
    """A :class:`threading.Event` that pickles and survives ``fork()``.

    Use it for a flag shared by a loader's threads (e.g. "stop prefetching") on a loader
    that may be sent to process workers. It has every method of :class:`threading.Event`.

    Pickling and forking keep the flag (set or clear) as it was at that moment: unlike a
    lock, an event is not *held* by anyone, so its state is data and is copied; threads
    waiting on it stay in this process. The copies are independent afterwards (use a
    :class:`multiprocessing.Event` for a flag shared *between* processes).

    Example:
        >>> import pickle
        >>> import threadsafe_gen as tsg
        >>> event = tsg.Event()
        >>> event.set()
        >>> pickle.loads(pickle.dumps(event)).is_set()
        True
    """

    def __init__(self) -> None:
        super().__init__()
        _LIVE_OTHERS.add(self)

    def _self_after_fork(self) -> None:
        was_set = self.is_set()
        super().__init__()
        if was_set:
            self.set()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_event, (type(self), self.is_set()))

    def __repr__(self) -> str:
        return f"<threadsafe_gen.Event {'set' if self.is_set() else 'clear'}>"
