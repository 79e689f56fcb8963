"""The workload of bench_peers.py: the same pure-Python CPU work per item for every contender.

A light module (numpy and threadsafe_gen only): the contenders' spawned workers (Grain
always spawns) import it, and nothing else of the benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from threadsafe_gen import shard, threadsafe_generator

#: Loop length of one item: about 1 ms of pure-Python work on a 2020s core.
SPAN = 15_000
FEATURES = 2


def work(i: Any) -> np.ndarray:
    """Item *i*: a modular sum over SPAN numbers (holds the GIL throughout); [id, value]."""
    i = int(i)
    s = 0
    for k in range(i, i + SPAN):
        s = (s + k * k) % 1_000_003
    return np.array([i, s], np.float32)


def all_items(n: int) -> Iterator[np.ndarray]:
    """Every item, in one process."""
    for i in range(n):
        yield work(i)


@threadsafe_generator
def items(n: int) -> Iterator[np.ndarray]:
    """Every item; in a worker, only its share (shard() before the work)."""
    for i in shard(range(n)):
        yield work(i)


def worker_share(n: int, worker: int, workers: int) -> Iterator[np.ndarray]:
    """The items of worker *worker* of *workers* (for tf.data's interleave)."""
    for i in range(worker, n, workers):
        yield work(i)


# --- for Keras 3 fit(): batches of (x, y) ---------------------------------------------------------


def xy(i: Any) -> tuple[np.ndarray, np.ndarray]:
    """Item *i* as a training pair: x = [id, value], y = [value]."""
    x = work(i)
    return x, x[1:]


def stack(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


@threadsafe_generator
def batches(n: int, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of *size* pairs; in a worker, only its share of the batches."""
    for lo in shard(range(0, n, size)):
        yield stack([xy(i) for i in range(lo, min(n, lo + size))])


def worker_batches(
    n: int, size: int, worker: int, workers: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The batches of worker *worker* of *workers* (tf.data's interleave, torch's dataset)."""
    for lo in range(worker * size, n, workers * size):
        yield stack([xy(i) for i in range(lo, min(n, lo + size))])
