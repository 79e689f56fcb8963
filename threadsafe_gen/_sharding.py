"""Worker identity and sharding: who am I, and which items are mine?

Public: :class:`WorkerInfo`, :func:`worker_info`, :func:`shard`. Internal (used by the
iterators, the parallel engine, ``threadsafe_gen.keras`` and the probes):
:func:`use_worker_info`, :func:`current_worker_info`, :func:`set_process_info`,
:func:`with_hosts`, :func:`auto_shard`, :func:`derive_seed` and :func:`describe_call`.

A worker is one of ``num_workers`` local workers (threads or processes) on one of
``num_hosts`` hosts; the data is split over hosts x local workers (see NOTE [ Hosts x local
workers ]). Which host this is comes from :mod:`threadsafe_gen._hosts`.

This module is the low level of the worker machinery: it imports nothing of ours but the
errors, the text helpers, the host detection and ``_frameworks`` (a torch or Grain worker's
identity), so the iterators and the parallel engine can both build on it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, TypeVar, cast

from ._frameworks import framework_worker_info
from ._hosts import host_info
from ._text import short_repr
from .errors import ShardingError

__all__ = [
    "WorkerInfo",
    "WorkerKind",
    "auto_shard",
    "current_worker_info",
    "derive_seed",
    "describe_call",
    "set_process_info",
    "shard",
    "use_worker_info",
    "with_hosts",
    "worker_info",
]

# NOTE [ Auto-sharding rule ]
# A call of a @threadsafe_generator function (or a callable run by parallel_iter) that runs
# inside one of our workers is sharded automatically: worker `id` of `n` keeps the items at
# positions k with k % n == id. UNLESS the body shards itself: if it calls worker_info() or
# shard() before producing its first item, it is "self-sharded" and every item it produces
# is kept. The decision is made once, when the first item is produced, by comparing a
# per-thread counter of worker_info()/shard() calls before and after. A shard() call after
# the first item of an auto-sharded body would split the data twice and lose items, so it
# raises ShardingError (a late worker_info() is fine: reading who you are splits nothing).
# Internal code that needs the info without counting as "consulted" uses
# current_worker_info().

# NOTE [ Hosts x local workers ]
# On several hosts the data is split by host first, then by local worker: host h of H keeps
# the items at positions h, h + H, h + 2H, ... (its part does not depend on how many workers
# any host runs), and local worker w of W keeps every W-th item of that part. Together: shard
# h + H * w of H * W (WorkerInfo.shard_id / num_shards), so every item belongs to exactly one
# (host, local worker) pair even when hosts run different numbers of workers, and a host's
# part is the same whether its workers are threads, processes or one main program.
# A WorkerInfo made without host/num_hosts takes them from host_info() when it is made: our
# engines make their workers' infos in the training process, so a spawned worker, which
# cannot see torch.distributed or jax there, still carries its host. with_hosts() fills in
# the host of an info that says "one host" when this process detects more (an info made
# before the process group existed, or by a framework's own worker), and of None outside
# workers, where shard() and worker_info() then split by host alone. The auto-sharding rule
# stays a worker thing: outside workers nothing is split unless the body calls shard() (the
# tf.data pipelines users build themselves shard by host on their own, unless told not to:
# docs/how-to/several-machines.md).

T = TypeVar("T")

WorkerKind = Literal["thread", "process"]


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """Who am I? The identity of the worker running the current code.

    Returned by :func:`worker_info` inside a worker started by threadsafe_gen (a thread or a
    process). Use it to split work by hand (``id`` of ``num_workers``), to seed randomness
    per worker, or to open one resource per worker. Like PyTorch's ``get_worker_info()``,
    but it also works in worker threads.

    Args:
        id: this worker's index, ``0 <= id < num_workers``.
        num_workers: how many workers share the data.
        seed: a seed that differs per worker and per epoch (derived from the run's base
            seed, the epoch and the id).
        epoch: the epoch this worker is producing data for (0-based).
        kind: ``"thread"`` or ``"process"``.
        host: the index of this worker's host (machine), ``0 <= host < num_hosts``.
        num_hosts: how many hosts share the data; with ``host``, taken from
            :func:`threadsafe_gen.host_info` when the info is made, unless given.

    The data is split over hosts x local workers: :attr:`shard_id` of :attr:`num_shards`.

    Raises:
        ValueError: ``id`` or ``host`` is out of range, ``num_workers < 1``,
            ``num_hosts < 1`` or ``kind`` is unknown.

    >>> info = WorkerInfo(id=1, num_workers=4, seed=7)
    >>> info.id, info.num_workers, info.epoch, info.kind, info.host, info.num_hosts
    (1, 4, 0, 'thread', 0, 1)
    >>> WorkerInfo(id=1, num_workers=4, seed=7, host=1, num_hosts=2).shard_id
    3
    """

    id: int
    num_workers: int
    seed: int
    epoch: int = 0
    kind: WorkerKind = "thread"
    host: int = dataclasses.field(default_factory=lambda: host_info().index)
    num_hosts: int = dataclasses.field(default_factory=lambda: host_info().count)

    def __post_init__(self) -> None:
        if self.num_workers < 1:
            msg = f"WorkerInfo expected num_workers >= 1, got num_workers={self.num_workers!r}."
            raise ValueError(msg)
        if not 0 <= self.id < self.num_workers:
            msg = (
                f"WorkerInfo expected 0 <= id < num_workers, got id={self.id!r} "
                f"with num_workers={self.num_workers!r}."
            )
            raise ValueError(msg)
        if self.kind not in ("thread", "process"):
            msg = f"WorkerInfo expected kind 'thread' or 'process', got kind={self.kind!r}."
            raise ValueError(msg)
        if self.num_hosts < 1 or not 0 <= self.host < self.num_hosts:
            msg = (
                f"WorkerInfo expected 0 <= host < num_hosts, got host={self.host!r} "
                f"with num_hosts={self.num_hosts!r}."
            )
            raise ValueError(msg)

    @property
    def shard_id(self) -> int:
        """This worker's shard over all hosts: ``host + num_hosts * id`` (the host's part is
        every ``num_hosts``-th item, and its workers split that part)."""
        return self.host + self.num_hosts * self.id

    @property
    def num_shards(self) -> int:
        """How many shards the data is split into: ``num_hosts * num_workers``."""
        return self.num_hosts * self.num_workers


# --- the current worker ---------------------------------------------------------------------

_UNSET: Any = object()


class _State(threading.local):
    # A threading.local subclass so every thread starts with these defaults.
    info: WorkerInfo | None = _UNSET
    consulted: int = 0  # worker_info() and shard() calls
    sharded: int = 0  # shard() calls


_local = _State()
# Set once in a worker process by set_process_info(); threads set _local.info instead.
_process_info: WorkerInfo | None = None


def set_process_info(info: WorkerInfo) -> None:
    """Internal: make ``info`` the whole process's worker info (in a new worker process).

    Threads of the process see it unless they set their own with :func:`use_worker_info`;
    the calling thread's own setting (inherited from a forked parent) is cleared.
    """
    global _process_info
    _process_info = info
    _local.info = _UNSET


def current_worker_info() -> WorkerInfo | None:
    """Internal: the current worker's info without counting as 'consulted'.

    See NOTE [ Auto-sharding rule ]: library code (adapters, probes, rng helpers) must call
    this, not :func:`worker_info`, or it would switch off auto-sharding for the user's body.
    """
    info = _local.info
    if info is not _UNSET:
        return info
    if _process_info is None:
        return _framework_info()
    return _process_info


def _framework_info() -> WorkerInfo | None:
    """The identity of a torch or Grain worker process running this code, else None.

    So ``worker_info()`` and ``shard()`` split an ``IterableDataset``'s items between
    ``DataLoader(num_workers=N)`` workers, and a Grain pipeline's between its processes.
    Grain gives no seed: one is derived from the worker index.
    """
    found = framework_worker_info()
    if found is None:
        return None
    index, count, seed, _framework = found
    seed = derive_seed(0, 0, index) if seed is None else seed
    return WorkerInfo(id=index, num_workers=count, seed=seed, kind="process")


def _consulted() -> int:
    return _local.consulted


def with_hosts(info: WorkerInfo | None) -> WorkerInfo | None:
    """Internal: *info* with its host filled in when this process detects several hosts.

    See NOTE [ Hosts x local workers ]. An info that already names several hosts is kept (it
    was made in the training process, which knew best); one that says "one host", or None
    outside workers, gets the host :func:`~threadsafe_gen.host_info` detects now (None stays
    None on a single host).
    """
    if info is not None and info.num_hosts > 1:
        return info
    host = host_info()
    if host.count == 1:
        return info
    if info is None:
        return WorkerInfo(
            id=0,
            num_workers=1,
            seed=derive_seed(0, 0, host.index),
            host=host.index,
            num_hosts=host.count,
        )
    return dataclasses.replace(info, host=host.index, num_hosts=host.count)


def worker_info() -> WorkerInfo | None:
    """Return the identity of the worker running this code, or None outside workers.

    Valid in threads and in processes started by threadsafe_gen (``parallel_iter``, the
    ``threadsafe_gen.keras`` adapters, ``check_loader`` probes), and in the worker processes of
    a PyTorch ``DataLoader`` or a Grain pipeline (their own index and count). A thread's own
    info wins over its process's. Calling it from a ``@threadsafe_generator`` body before the first
    ``yield`` marks the body as self-sharded: it is then trusted to split the data itself and
    is not auto-sharded (see :func:`shard`).

    On several hosts (see :func:`threadsafe_gen.host_info`) the info names the host too
    (``host`` of ``num_hosts``), and outside workers it is not None but the whole host as one
    worker: ``WorkerInfo(id=0, num_workers=1, host=h, num_hosts=n)``.

    Returns:
        The current :class:`WorkerInfo`, or None in the main program of a single host.

    >>> worker_info() is None
    True
    >>> with use_worker_info(WorkerInfo(id=0, num_workers=2, seed=1)):
    ...     worker_info().num_workers
    2
    """
    _local.consulted += 1
    return with_hosts(current_worker_info())


@contextlib.contextmanager
def use_worker_info(info: WorkerInfo | None) -> Iterator[WorkerInfo | None]:
    """Internal: make ``info`` the current thread's worker info for the ``with`` block.

    ``None`` means "not a worker" and hides the process-wide info too. The previous value is
    restored on exit, so scopes nest.
    """
    previous = _local.info
    _local.info = info
    try:
        yield info
    finally:
        _local.info = previous


def shard(iterable: Iterable[T]) -> Iterator[T]:
    """Keep only the current worker's share of ``iterable``: every ``num_shards``-th item.

    Inside worker ``id`` of ``n``, yields the items at positions ``id, id + n, id + 2n, ...``;
    outside workers it yields everything. On several hosts (see
    :func:`threadsafe_gen.host_info`) the split is over hosts x local workers: host ``h`` of
    ``H`` keeps the items at positions ``h, h + H, ...`` and its worker ``id`` every ``n``-th
    of those (shard ``h + H * id`` of ``H * n``), so every item belongs to exactly one (host,
    worker) pair; outside workers each host keeps its whole part. Use it in
    a generator body to split the *cheap* part (e.g. a list of file names) before the
    expensive part, so each worker only does its own work. A body that calls ``shard()`` (or
    :func:`worker_info`) before its first ``yield`` is self-sharded and is not auto-sharded
    again.

    Args:
        iterable: any iterable; a ``range`` is sliced without iterating.

    Returns:
        An iterator over this worker's items.

    Raises:
        TypeError: ``iterable`` is not iterable.

    >>> list(shard(range(5)))
    [0, 1, 2, 3, 4]
    >>> with use_worker_info(WorkerInfo(id=1, num_workers=2, seed=0)):
    ...     list(shard(range(5)))
    [1, 3]
    """
    info = worker_info()
    _local.sharded += 1
    try:
        it = iter(iterable)
    except TypeError:
        msg = (
            f"shard() expected an iterable, got {iterable!r} (type={type(iterable).__name__}). "
            "Pass the sequence of items (or file names, indices...) to split between workers."
        )
        raise TypeError(msg) from None
    if info is None or info.num_shards == 1:
        return it
    if isinstance(iterable, range):
        return cast(Iterator[T], iter(iterable[info.shard_id :: info.num_shards]))
    return itertools.islice(it, info.shard_id, None, info.num_shards)


def auto_shard(
    make: Callable[[], Iterable[T]], info: WorkerInfo | None, *, name: str | None = None
) -> Iterator[T]:
    """Internal: call ``make()`` and keep this worker's share unless the body self-shards.

    See NOTE [ Auto-sharding rule ] (and NOTE [ Hosts x local workers ]: inside workers
    the split is over hosts x local workers). ``name`` names the generator in errors.
    """
    info = None if info is None else with_hosts(info)
    if info is None or info.num_shards == 1:
        return iter(make())
    before = _consulted()
    return _auto_shard_gen(make, info, before, name or describe_call(make))


def _auto_shard_gen(
    make: Callable[[], Iterable[T]], info: WorkerInfo, before: int, name: str
) -> Iterator[T]:
    it = iter(make())
    try:
        first = next(it)
    except StopIteration:
        return
    if _consulted() != before:
        # Self-sharded: the body asked who it is, so it already yields only its share.
        yield first
        yield from it
        return
    n, wid = info.num_shards, info.shard_id
    if wid == 0:
        yield first
    position = 1
    while True:
        # Compared around each next() only: the consumer (e.g. tf.data) may call next()
        # from a different thread each time, and the counters are per thread.
        mark = _local.sharded
        try:
            item = next(it)
        except StopIteration:
            return
        if _local.sharded != mark:
            msg = (
                f"{name} called shard() after producing its first item, but worker {info.id} "
                f"of {info.num_workers} was already sharding it automatically, so its items would be split "
                "twice and some would be lost. Call shard() (or worker_info()) before the "
                "first yield, which marks the generator as self-sharded, or decorate it "
                "with @threadsafe_generator(auto_shard=False) and split the data yourself."
            )
            raise ShardingError(msg)
        if position % n == wid:
            yield item
        position += 1


def derive_seed(base: int, epoch: int, worker_id: int) -> int:
    """Internal: a 63-bit seed that depends on (base, epoch, worker_id) and nothing else."""
    digest = hashlib.blake2b(f"{base}:{epoch}:{worker_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def describe_call(call: object) -> str:
    """Internal: name a call or callable in messages, ``module.function(args)`` when known."""
    describe = getattr(type(call), "describe", None)
    if describe is not None:
        return str(describe(call))
    name = getattr(call, "__qualname__", None)
    if name is not None:
        return f"{getattr(call, '__module__', '?')}.{name}"
    return short_repr(call)
