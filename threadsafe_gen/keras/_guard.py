"""The Sequence guard: lock-free ``__getitem__``, per-worker reseeding, debug mode.

Public through :mod:`threadsafe_gen.keras`: :func:`guard` and :func:`current_epoch`. Nothing
here imports TensorFlow or Keras.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
import random
import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload

import numpy as np

from .._hosts import host_info
from .._locks import Lock
from .._text import short_repr, type_name
from ..errors import SharedStateError

# NOTE [ Why no lock in the guard ]
# A lock around __getitem__ (the usual advice) makes workers=4 as slow as workers=1. The guard
# keeps __getitem__ lock-free: its hot path reads one attribute and a module global. The only
# shared mutable state it writes is the global RNGs, once per (process, dataset, epoch), on a
# slow path that takes a module lock. Thread-safety of the user's own body stays the user's job;
# debug mode catches the commonest violation (assigning to self inside __getitem__).

# NOTE [ Process identity after fork ]
# os.getpid() is a system call; the guard runs on every __getitem__. We keep the pid in a module
# global updated by os.register_at_fork(after_in_child=...). A spawned or forkserver child
# imports this module afresh, so the global is right there too. Other modules read it as
# `_guard._pid` (an attribute of this module), never as an imported copy, which fork would
# leave stale.

__all__ = ["DEBUG_ENV", "current_epoch", "guard"]

_T = TypeVar("_T", bound=type)

#: Environment variable that turns on the guard's debug mode for every guarded class.
DEBUG_ENV = "THREADSAFE_GEN_DEBUG"

_pid = os.getpid()


def _after_fork_in_child() -> None:
    global _pid
    _pid = os.getpid()
    # A forked child inherits the parent's RNG state: whatever the parent seeded for is stale
    # here (the keys hold the parent's pid anyway) and must not short-circuit a reseed.
    _seeded.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)

# Per guarded dataset (its token): the (pid, epoch) this process last reseeded for. Keyed per
# dataset, so that two datasets served by one process do not make each other restart their
# streams by reseeding alternately.
_seeded: dict[int, tuple[int, int]] = {}
# Dataset tokens: numbered in creation order, so a seeded run is reproducible and two datasets
# served by one worker process draw from different streams.
_tokens = itertools.count(1)
# A fork-safe lock: Keras forks its workers from a helper thread, so another thread may hold
# this lock at that moment (reseeding, or guarding a subclass); a raw lock would then stay held
# for ever in the child, and its first reseed would hang (docs/failure-modes.md row 2a').
_seed_lock = Lock()
# Per thread: ids of the guarded datasets whose __getitem__ this thread is running (debug mode).
_inside = threading.local()


def _worker_key() -> tuple[int, ...]:
    """A number for this worker process that is stable across runs of the same program.

    ``multiprocessing`` numbers every process a parent starts (``_identity``, 1, 2, ...), so a
    Keras pool of 4 gets (1,) .. (4,) in epoch 0 and (5,) .. (8,) in epoch 1. A process started
    some other way falls back to its pid (distinct, not reproducible).
    """
    identity = getattr(multiprocessing.current_process(), "_identity", ())
    return tuple(identity) if identity else (_pid,)


def _reseed(seed: int | None, token: int, epoch: int) -> None:
    """Reseed ``random`` and numpy's global RNG for this process and epoch (slow path)."""
    with _seed_lock:
        key = (_pid, epoch)
        if _seeded.get(token) == key:
            return
        if seed is None:
            # Fresh OS entropy per worker and epoch: distinct streams, not reproducible.
            sequence = np.random.SeedSequence()
        else:
            sequence = np.random.SeedSequence(seed, spawn_key=(token, epoch, *_worker_key()))
        state = sequence.generate_state(4)
        np.random.seed(state)
        random.seed(int.from_bytes(state.tobytes(), "little"))
        _seeded[token] = key


class _GuardOptions:
    __slots__ = ("debug", "seed", "shard_hosts")

    def __init__(self, seed: int | None, debug: bool, shard_hosts: bool = False) -> None:
        self.seed = seed
        self.debug = debug
        self.shard_hosts = shard_hosts


# NOTE [ The guard on several hosts ]
# With shard_hosts=True a guarded dataset serves only its host's indices: len() is the size of
# the host's part (indices host, host + hosts, ...) and index i of it is the dataset's index
# host + i * hosts, so every batch is served by exactly one host. The host is detected in the
# process that built the dataset at each len()/[] call (cheap: environment variables and
# sys.modules), and remembered in the instance (_tsg_hosts), which travels with the dataset to
# Keras' worker processes: a spawned worker cannot see torch.distributed or jax. Off by
# default: tf_keras fit() under a tf.distribute multi-worker strategy already splits a
# Sequence's batches between hosts itself (tf.data DATA auto-sharding), and a second split
# would drop data.


_MISSING: Any = object()


def _init_state(obj: Any) -> None:
    d = obj.__dict__
    if "_tsg_owner_pid" not in d:
        d["_tsg_owner_pid"] = _pid
        d["_tsg_token"] = next(_tokens)
        d["_tsg_epoch"] = 0


def _exempt(cls: type, name: str) -> bool:
    """Attributes __getitem__ may set in debug mode: our own and per-worker resources."""
    if name.startswith("_tsg_"):
        return True
    attr = getattr(cls, name, None)
    return type(attr).__module__ == "threadsafe_gen._resources"


def _what(obj: object) -> str:
    """*obj* for a message: its bounded repr, and its type unless it is a class."""
    if isinstance(obj, type):
        return short_repr(obj)
    return f"{short_repr(obj)} (type={type_name(obj)})"


def _mutation_error(obj: Any, name: str, index: object, verb: str) -> SharedStateError:
    cls = type(obj).__qualname__
    msg = (
        f"{cls}.__getitem__ {verb} self.{name} while serving index {short_repr(index)}. "
        "With workers>1 the dataset is shared by worker threads (the write races with other "
        "batches) or copied into worker processes (the write is lost, and Keras calls "
        "__getitem__(0) and (1) in the parent before it forks). "
        "Compute the value from the index, keep per-worker resources in "
        "threadsafe_gen.per_thread / per_process attributes, or set it in __init__ or "
        "on_epoch_end. This check runs because of guard(debug=True) or "
        f"{DEBUG_ENV}=1."
    )
    return SharedStateError(msg)


def _guard_class(cls: _T, options: _GuardOptions) -> _T:
    if not callable(getattr(cls, "__getitem__", None)) or not hasattr(cls, "__len__"):
        msg = (
            f"guard() expected a Sequence-like class with __getitem__ and __len__ "
            f"(keras.utils.PyDataset, tf_keras.utils.Sequence or your own), got "
            f"{_what(cls)}"
        )
        raise TypeError(msg)
    if not getattr(cls, "__dictoffset__", 1):
        msg = (
            f"guard() keeps its per-instance state in the instance __dict__, but {cls.__qualname__} "
            "defines __slots__ without '__dict__'. Add '__dict__' to its __slots__."
        )
        raise TypeError(msg)
    names = ("__getitem__", "on_epoch_end", "__init__", "__setattr__", "__delattr__")
    for name in names + (("__len__",) if options.shard_hosts else ()):
        current: Any = getattr(cls, name, None)
        if current is not None and getattr(current, "__tsg_guard__", None) is options:
            continue
        if name == "__getitem__":
            wrapped: Any = _wrap_getitem(current, options)
        elif name == "__len__":
            wrapped = _wrap_len(current)
        elif name == "on_epoch_end":
            wrapped = _wrap_on_epoch_end(current)
        elif name == "__init__":
            wrapped = _wrap_init(current, options)
        elif options.debug:
            wrapped = _wrap_setattr(current, name == "__delattr__")
        else:
            continue
        wrapped.__tsg_guard__ = options
        setattr(cls, name, wrapped)
    # Class-level defaults keep the hot path safe for an instance whose __init__ never ran
    # (created by __new__ or unpickled by a custom __setstate__): it is treated as foreign.
    for name, default in (("_tsg_owner_pid", None), ("_tsg_token", 0), ("_tsg_epoch", 0)):
        if not hasattr(cls, name):
            setattr(cls, name, default)
    cls.__tsg_guard_options__ = options  # type: ignore[attr-defined]
    return cls


def _wrap_init(init: Callable[..., None], options: _GuardOptions) -> Callable[..., None]:
    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        _init_state(self)
        init(self, *args, **kwargs)
        cls = type(self)
        if (
            getattr(cls.__getitem__, "__tsg_guard__", None) is not options
            or (options.debug and getattr(cls.__setattr__, "__tsg_guard__", None) is not options)
            or (options.shard_hosts and getattr(cls.__len__, "__tsg_guard__", None) is not options)
        ):
            # A subclass of a guarded class overrides __getitem__: guard it too, once.
            with _seed_lock:
                _guard_class(cls, options)

    return __init__


def _hosts_of(obj: Any) -> tuple[int, int]:
    """(host, hosts) a guarded dataset serves; see NOTE [ The guard on several hosts ]."""
    d = obj.__dict__
    if obj._tsg_owner_pid == _pid or "_tsg_hosts" not in d:
        host = host_info()
        d["_tsg_hosts"] = (host.index, host.count)
    hosts: tuple[int, int] = d["_tsg_hosts"]
    return hosts


def _wrap_len(length: Callable[[Any], int]) -> Any:
    @functools.wraps(length)
    def __len__(self: Any) -> int:
        n = length(self)
        host, hosts = _hosts_of(self)
        return n if hosts == 1 else len(range(host, n, hosts))

    __len__.__tsg_inner__ = length  # type: ignore[attr-defined]
    return __len__


def _host_getitem(getitem: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """*getitem* reading this host's indices (see NOTE [ The guard on several hosts ])."""

    @functools.wraps(getitem)
    def __getitem__(self: Any, index: Any) -> Any:
        host, hosts = _hosts_of(self)
        if hosts == 1 or not isinstance(index, (int, np.integer)):
            return getitem(self, index)
        length = type(self).__len__
        n = getattr(length, "__tsg_inner__", length)(self)
        part = len(range(host, n, hosts))
        i = int(index) + part if index < 0 else int(index)
        if not 0 <= i < part:
            msg = (
                f"{type(self).__qualname__} index {index} out of range: host {host} of {hosts} "
                f"serves {part} of the {n} batches (guard(shard_hosts=True))."
            )
            raise IndexError(msg)
        return getitem(self, host + i * hosts)

    return __getitem__


def _wrap_getitem(getitem: Callable[[Any, Any], Any], options: _GuardOptions) -> Any:
    seed = options.seed
    if options.shard_hosts:
        getitem = _host_getitem(getitem)
    if not options.debug:

        @functools.wraps(getitem)
        def __getitem__(self: Any, index: Any) -> Any:
            # Hot path in the owner process: one attribute read and one global compare.
            if self._tsg_owner_pid != _pid:
                token, epoch = self._tsg_token, self._tsg_epoch
                if _seeded.get(token) != (_pid, epoch):
                    _reseed(seed, token, epoch)
            return getitem(self, index)

        return __getitem__

    @functools.wraps(getitem)
    def __getitem_debug__(self: Any, index: Any) -> Any:
        if self._tsg_owner_pid != _pid:
            token, epoch = self._tsg_token, self._tsg_epoch
            if _seeded.get(token) != (_pid, epoch):
                _reseed(seed, token, epoch)
        active: dict[int, Any] | None = getattr(_inside, "active", None)
        if active is None:
            active = _inside.active = {}
        me = id(self)
        outer = active.get(me, _MISSING)
        active[me] = index
        before = dict(self.__dict__)
        try:
            result = getitem(self, index)
        finally:
            if outer is _MISSING:
                del active[me]
            else:
                active[me] = outer
        after = self.__dict__
        if after.keys() != before.keys() or any(after[k] is not v for k, v in before.items()):
            cls = type(self)
            for name in sorted(set(before) | set(after)):
                if _exempt(cls, name):
                    continue
                if name not in after:
                    raise _mutation_error(self, name, index, "deleted")
                if name not in before or after[name] is not before[name]:
                    raise _mutation_error(self, name, index, "assigned")
        return result

    return __getitem_debug__


def _wrap_setattr(original: Any, delete: bool) -> Any:
    verb = "deleted" if delete else "assigned"

    if delete:

        def __delattr__(self: Any, name: str) -> None:
            active = getattr(_inside, "active", None)
            if active and id(self) in active and not _exempt(type(self), name):
                raise _mutation_error(self, name, active[id(self)], verb)
            original(self, name)

        return __delattr__

    def __setattr__(self: Any, name: str, value: Any) -> None:
        active = getattr(_inside, "active", None)
        if active and id(self) in active and not _exempt(type(self), name):
            raise _mutation_error(self, name, active[id(self)], verb)
        original(self, name, value)

    return __setattr__


def _wrap_on_epoch_end(original: Callable[[Any], None] | None) -> Callable[[Any], None]:
    def on_epoch_end(self: Any) -> None:
        # A guarded subclass's on_epoch_end may call a guarded base's via super(): count the
        # epoch once, in the outermost (most-derived) wrapper.
        if type(self).on_epoch_end is wrapper:
            _init_state(self)
            self.__dict__["_tsg_epoch"] += 1
        if original is not None:
            original(self)

    wrapper = on_epoch_end

    if original is not None:
        wrapper = functools.wraps(original)(on_epoch_end)
    return wrapper


@overload
def guard(cls: _T, /) -> _T: ...


@overload
def guard(
    *, seed: int | None = None, debug: bool | None = None, shard_hosts: bool = False
) -> Callable[[_T], _T]: ...


def guard(
    cls: _T | None = None,
    /,
    *,
    seed: int | None = None,
    debug: bool | None = None,
    shard_hosts: bool = False,
) -> _T | Callable[[_T], _T]:
    """Make a Sequence-like dataset class safe for Keras worker processes, without a lock.

    Use it on a ``keras.utils.PyDataset`` (Keras 3), a ``tf_keras.utils.Sequence`` or any class
    with ``__len__`` and ``__getitem__`` whose ``__getitem__(i)`` is a function of ``i``, when
    you train with ``workers>1``. ``__getitem__`` stays lock-free, so threads keep their speed.

    What it does:

    * **Reseeds per worker process and epoch.** Keras forks (or spawns) a new pool every epoch
      and never reseeds numpy, so without this every forked worker replays the parent's
      ``np.random`` stream and the same "random" augmentations return every epoch. On the first
      ``__getitem__`` in a process other than the one that built the dataset, and again when
      the epoch changes, the guard seeds ``random`` and ``np.random`` from
      ``(seed, dataset number, epoch, worker number)`` (fresh OS entropy when ``seed`` is
      None); datasets are numbered in creation order. It counts
      epochs itself by wrapping ``on_epoch_end`` (see :func:`current_epoch`).
    * **Threads:** numpy's global RNG is one object per process; reseeding it from several
      threads would race and make nothing reproducible. In the process that built the dataset
      (the main program and its worker threads) the guard leaves the global RNGs alone: the
      threads draw distinct values from the one shared stream, in an order that depends on
      scheduling. For exact, reproducible per-sample randomness under any worker kind, draw from
      ``threadsafe_gen.rng_for(index, epoch=current_epoch(self), seed=...)`` instead.
    * **Debug mode** (``debug=True`` or the environment variable ``THREADSAFE_GEN_DEBUG=1``):
      raises :class:`~threadsafe_gen.errors.SharedStateError` when ``__getitem__`` assigns to
      or deletes an attribute of the dataset (``self.cursor += 1``, ``self.__dict__[k] = v``).
      ``threadsafe_gen.per_thread`` / ``per_process`` attributes are allowed. It cannot see
      in-place changes such as ``self.buffer[:] = ...``.
    * **Several hosts** (``shard_hosts=True``): each host serves only its part of the
      batches, indices ``host, host + hosts, ...`` of the dataset, as ``len()`` and ``[0]``,
      ``[1]``, ... of the guarded one; the host comes from :func:`threadsafe_gen.host_info`
      (torch.distributed, JAX, ``TF_CONFIG``, ``set_hosts()``...). Use it with Keras 3 and
      JAX multi-process training (``keras.distribution.DataParallel(auto_shard_dataset=
      False)``), or torch.distributed, where nothing else splits a PyDataset between hosts.
      Not with tf_keras ``fit()`` under ``MultiWorkerMirroredStrategy``: tf.data already
      splits the batches there (use ``legacy_fit_input``, which does it without the waste).
      Every host must run the same number of steps: make ``len()`` a multiple of the hosts.

    A subclass of a guarded class that overrides ``__getitem__`` is guarded on its first
    instantiation. The guard's state lives in three ``_tsg_*`` instance attributes, which
    pickle with the dataset.

    Args:
        cls: the class (when used bare, ``@guard``).
        seed: base seed for the per-worker reseeding; None draws fresh entropy in each worker.
        debug: raise on attribute writes inside ``__getitem__``; None reads ``THREADSAFE_GEN_DEBUG``.
        shard_hosts: serve only this host's part of the batches on several hosts.

    Returns:
        The same class, modified in place (or a decorator, when called with options only).

    Raises:
        TypeError: *cls* has no ``__getitem__`` or no ``__len__``.

    Example:
        >>> import numpy as np
        >>> from threadsafe_gen.keras import guard
        >>> @guard(seed=7, debug=True)
        ... class Squares:
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return np.arange(i * 8, i * 8 + 8) ** 2
        >>> Squares()[1][:3].tolist()
        [64, 81, 100]
    """
    if debug is None:
        debug = os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")
    options = _GuardOptions(seed, debug, bool(shard_hosts))
    if cls is None:
        return functools.partial(_guard_class, options=options)
    target: object = cls
    if not isinstance(target, type):
        msg = (
            f"guard() decorates a class, got {_what(cls)}; "
            "did you mean to decorate its class, e.g. guard(type(dataset))?"
        )
        raise TypeError(msg)
    return _guard_class(cls, options)


def current_epoch(dataset: object) -> int:
    """The epoch a guarded dataset is in, counted from 0 by its ``on_epoch_end`` calls.

    Use it inside ``__getitem__`` to key per-sample randomness on the epoch, e.g.
    ``rng_for(index, epoch=current_epoch(self))``. The number is distinct per epoch, which is
    what seeding needs, but it is not Keras' epoch index: Keras 3 calls ``on_epoch_end`` once
    before the first epoch (``EpochIterator.reset()``) and then after each epoch, in the
    training process, building each epoch's worker pool after it, so training epoch ``e`` sees
    ``e + 1`` in the parent and in its forked or spawned workers; tf_keras calls
    ``on_epoch_end`` twice per epoch (docs/failure-modes.md row 4.6), so there it grows by 2 per epoch.

    Args:
        dataset: an instance of a class decorated with :func:`guard`.

    Returns:
        The number of completed epochs (0 during the first).

    Raises:
        TypeError: *dataset* is not an instance of a guarded class.

    Example:
        >>> from threadsafe_gen.keras import current_epoch, guard
        >>> @guard
        ... class Tiny:
        ...     def __len__(self):
        ...         return 1
        ...     def __getitem__(self, i):
        ...         return i
        >>> ds = Tiny()
        >>> ds.on_epoch_end()
        >>> current_epoch(ds)
        1
    """
    if getattr(type(dataset), "__tsg_guard_options__", None) is None:
        msg = (
            f"current_epoch() expected an instance of a class decorated with "
            f"threadsafe_gen.keras.guard, got {_what(dataset)}"
        )
        raise TypeError(msg)
    _init_state(dataset)
    epoch: int = dataset.__dict__["_tsg_epoch"]
    return epoch
