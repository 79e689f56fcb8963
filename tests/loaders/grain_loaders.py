"""Grain data sources and transforms for tests/test_probes_grain.py and tests/test_frameworks.py.

A light module of its own (numpy and grain only): Grain's workers are spawned, import the
classes by name, and would otherwise re-import whatever the test module imports.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import grain
import numpy as np
from grain._src.python.dataset import dataset as grain_dataset

import threadsafe_gen as tsg

from .basic import FaultyRecords

N = 32


def prepare_process() -> None:
    """Grain's process-wide state, for tests that check for leftover threads.

    Grain starts one thread pool per process (shared-memory deletion) the first time a
    pipeline with workers runs, and keeps it for good: start it before a test's snapshot of
    the running threads. With jax installed, Grain reads absl flags, which must then count
    as parsed outside absl.app.run().
    """
    from grain._src.python.ipc import shared_memory_array

    shared_memory_array.SharedMemoryArray.enable_async_del(1)
    try:
        from absl import flags
    except ImportError:
        return
    flags.FLAGS.mark_as_parsed()


def release_process() -> None:
    """Stop the thread pool prepare_process() started, when a test module is done with Grain:
    later tests' fork-safety probes would otherwise see its threads as the user's (TSG202)."""
    from grain._src.python.ipc import shared_memory_array

    cls = shared_memory_array.SharedMemoryArray
    pool = cls._del_thread_pool
    if pool is not None:
        cls._disable_async_del()
        pool.close()
        pool.join()


class Source(FaultyRecords):
    """A random-access source of N records; kind makes record 9 hang, crash or raise."""

    n = N


def loader(kind: str = "ok", operations: Any = (), worker_count: int = 2) -> Any:
    """grain.DataLoader over Source(kind), in order, one epoch."""
    return grain.DataLoader(
        data_source=Source(kind),
        sampler=grain.samplers.IndexSampler(
            N, grain.sharding.NoSharding(), shuffle=False, num_epochs=1, seed=0
        ),
        operations=list(operations),
        worker_count=worker_count,
    )


class Jitter(grain.transforms.Map):  # type: ignore[misc]
    """Augmentation from numpy's global RNG: not reproducible."""

    def map(self, x: Any) -> Any:
        return x + np.random.normal()


class RandomJitter(grain.transforms.RandomMap):  # type: ignore[misc]
    """The fix: Grain's per-element rng."""

    def random_map(self, x: Any, rng: np.random.Generator) -> Any:
        return x + rng.normal()


class Locked(grain.transforms.Map):  # type: ignore[misc]
    """A transform holding a raw lock: cannot be pickled into Grain's workers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def map(self, x: Any) -> Any:
        with self.lock:
            return x


def reset_numpy(index: int, count: int) -> None:
    """An mp_prefetch worker_init_fn that seeds every worker alike."""
    np.random.seed(0)


class _Items(grain_dataset.DatasetIterator):  # type: ignore[misc]
    def __init__(self, items: list[Any]) -> None:
        super().__init__()
        self._it = iter(items)

    def __next__(self) -> Any:
        return next(self._it)

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


class Unsliceable(grain.IterDataset):  # type: ignore[misc]
    """An IterDataset source without set_slice: mp_prefetch cannot split it."""

    def __init__(self) -> None:
        super().__init__()

    def __iter__(self) -> Any:
        return _Items([np.int64(i) for i in range(N)])


class IgnoresSlice(Unsliceable):
    """set_slice accepted and ignored: every worker yields every element."""

    def set_slice(self, sl: slice, sequential_slice: bool = False) -> None:
        pass


def numbers(n: int) -> Iterator[Any]:
    """A plain generator function (for threadsafe_gen.grain.GeneratorIterDataset)."""
    for i in range(n):
        yield np.int64(i)


def my_share(n: int) -> Iterator[Any]:
    """A generator that splits the items itself with threadsafe_gen.shard()."""
    for i in tsg.shard(range(n)):
        yield np.int64(i)


class WhoAmI(grain.transforms.Map):  # type: ignore[misc]
    """Pairs each element with threadsafe_gen.worker_info() in the Grain worker."""

    def map(self, x: Any) -> Any:
        info = tsg.worker_info()
        return int(x), -1 if info is None else info.id, 0 if info is None else info.num_workers
