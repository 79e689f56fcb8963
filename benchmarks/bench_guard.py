"""Guarded Keras 3 PyDataset whose __getitem__ releases the GIL: workers=2 threads vs 1.

Target (issue 6): >= 1.8x with workers=2, because the guard adds no lock; the usual
"lock around __getitem__" recipe is measured beside it (it makes 2 workers as slow as 1).
Two kinds of GIL-releasing work: waiting on I/O (a 10 ms round trip per batch, the usual
reason to use threads), and CPU-bound numpy (a sort), where on a 2-core machine the two
workers compete with the training step itself for the same two cores.
Also the guard's own cost per call on a realistic batch (64x32x32x3 float32 augmentation),
target < 2 %.

Throughput is measured through real ``model.fit`` epochs of a tiny model (epoch time, median
of the epochs after the first), so Keras' own queueing is included.
"""

from __future__ import annotations

import argparse
import functools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import numpy as np
from _util import Result, emit, epoch_time, interleaved

BATCH = 8
FEATURES = 4


def _work(index: int, size: int) -> np.ndarray:
    """GIL-releasing numpy work (a sort of `size` floats), then a small batch."""
    data = np.random.default_rng(index).random(size)
    data.sort()  # numpy releases the GIL while sorting
    x = np.full((BATCH, FEATURES), float(data[0]), dtype=np.float32)
    x[:, 0] = index
    return x


def _io_work(index: int, wait: float) -> np.ndarray:
    """Waiting on I/O (a database or network-file round trip; time.sleep stands in for it and
    releases the GIL the same way), then a small batch."""
    time.sleep(wait)
    x = np.zeros((BATCH, FEATURES), dtype=np.float32)
    x[:, 0] = index
    return x


def make_classes(work: Callable[[int], np.ndarray], batches: int) -> dict[str, type]:
    import keras

    from threadsafe_gen.keras import guard

    class Plain(keras.utils.PyDataset):
        def __len__(self) -> int:
            return batches

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            x = work(index)
            return x, x[:, :1]

    @guard
    class Guarded(Plain):
        pass

    class Locked(Plain):
        """The recipe: a lock around the whole of __getitem__."""

        _lock = threading.Lock()

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            with self._lock:
                return super().__getitem__(index)

    return {"plain": Plain, "guarded": Guarded, "locked": Locked}


def thread_ceiling(size: int, batches: int, repeat: int) -> float:
    """The same __getitem__ work in a plain ThreadPoolExecutor, 2 threads vs 1, no Keras:
    what 2 threads can gain on this machine at this moment."""
    from concurrent.futures import ThreadPoolExecutor

    def run(workers: int) -> None:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda i: _work(i, size), range(batches)))

    times = interleaved({"1": lambda: run(1), "2": lambda: run(2)}, repeat)
    return times["1"] / times["2"]


def guard_overhead(repeat: int) -> tuple[float, float, float]:
    """(plain s, guarded s, overhead fraction) per call on a 64x32x32x3 float32 augmentation."""
    from threadsafe_gen.keras import guard

    images = np.random.default_rng(0).random((512, 32, 32, 3), dtype=np.float32)

    class Augment:
        def __len__(self) -> int:
            return 8

        def __getitem__(self, index: int) -> np.ndarray:
            batch = images[index * 64 : (index + 1) * 64]
            flipped = batch[:, :, ::-1, :] if index % 2 else batch
            noise = np.random.normal(0, 0.05, size=batch.shape).astype(np.float32)
            return np.clip(flipped * 1.1 + noise, 0, 1)

    GuardedAugment = guard(type("GuardedAugment", (Augment,), {}))
    plain, guarded = Augment(), GuardedAugment()

    def run(ds: Any) -> None:
        for i in range(8):
            ds[i]

    # The minimum: the guard's own cost, least disturbed by other load (as timeit recommends).
    times = interleaved(
        {"plain": lambda: run(plain), "guarded": lambda: run(guarded)}, repeat, stat=min
    )
    per_plain, per_guarded = times["plain"] / 8, times["guarded"] / 8
    return per_plain, per_guarded, per_guarded / per_plain - 1


def speedups(
    name: str, work: Callable[[int], np.ndarray], batches: int, epochs: int
) -> list[Result]:
    """The guard's and the lock recipe's workers=2 vs workers=1, measured in one go."""
    classes = make_classes(work, batches)
    measured = {
        "guarded w1": epoch_time(classes["guarded"](workers=1), epochs, FEATURES),
        "guarded w2": epoch_time(classes["guarded"](workers=2), epochs, FEATURES),
        "plain w2": epoch_time(classes["plain"](workers=2), epochs, FEATURES),
        "locked w2": epoch_time(classes["locked"](workers=2), epochs, FEATURES),
    }
    detail = ", ".join(f"{k}: {v * 1000:.0f} ms/epoch" for k, v in measured.items())
    speedup = measured["guarded w1"] / measured["guarded w2"]
    locked = measured["guarded w1"] / measured["locked w2"]
    return [
        Result(
            name,
            "workers=2 vs workers=1 (guard)",
            speedup,
            target=">= 1.8",
            met=speedup >= 1.8,
            detail=detail,
        ),
        Result(
            name,
            "workers=2 vs workers=1 (lock-around-__getitem__ recipe)",
            locked,
            detail="the recipe beside it",
        ),
    ]


def run(quick: bool) -> list[Result]:
    size, batches, epochs = (200_000, 8, 2) if quick else (1_500_000, 64, 4)
    wait, io_batches = (0.005, 8) if quick else (0.01, 128)
    repeat = 5 if quick else 40
    results = speedups(
        "guarded PyDataset, I/O-bound __getitem__ (threads)",
        functools.partial(_io_work, wait=wait),
        io_batches,
        epochs,
    )
    results += speedups(
        "guarded PyDataset, numpy __getitem__ that releases the GIL (threads)",
        functools.partial(_work, size=size),
        batches,
        epochs,
    )
    plain, guarded, overhead = guard_overhead(repeat)
    ceiling = thread_ceiling(size, batches, 2 if quick else 5)
    return [
        *results,
        Result(
            "machine ceiling for thread parallelism (same run)",
            "plain ThreadPoolExecutor(2) vs (1), the same numpy work, no Keras",
            ceiling,
            detail="what 2 threads can gain on this machine at this moment; compare the guard's row with it",
        ),
        Result(
            "guard overhead per batch",
            "guarded vs plain __getitem__, 64x32x32x3 float32 augmentation",
            overhead * 100,
            unit="%",
            target="< 2",
            met=overhead < 0.02,
            detail=f"guarded {guarded * 1e3:.2f} ms, plain {plain * 1e3:.2f} ms per batch (best of {repeat} interleaved runs)",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    emit(run(parser.parse_args().quick))
