"""Module-level loaders for tests/test_keras*.py: spawn and forkserver workers import them by name.

The generators import nothing heavy, so spawn workers that only run them start in a fraction of a
second. The Keras classes are built on first access (module ``__getattr__``), so only the
processes that need Keras (the trainer, and Keras' own spawn workers unpickling a PyDataset)
import it.

Every batch is ``(x, y)`` with ``x[:, 0]`` the sample id and ``x[:, 1]`` a draw from numpy's
global RNG (the "augmentation"), so a model that records ``x`` shows both exactly-once delivery
and whether workers repeated each other's random stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from threadsafe_gen import per_process, rng_for, shard, threadsafe_generator
from threadsafe_gen.keras import current_epoch, guard

N_SAMPLES = 64
BATCH = 8
RNG_SEED = 2026


def make_batch(index: int, batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """Batch *index*: ids in column 0, one np.random draw per sample in column 1."""
    ids = np.arange(index * batch, (index + 1) * batch, dtype="float32")
    noise = np.random.random(batch).astype("float32")
    return np.stack([ids, noise], axis=1), np.zeros((batch, 1), dtype="float32")


@threadsafe_generator
def id_batches(n: int = N_SAMPLES, batch: int = BATCH, offset: int = 0) -> Any:
    """All batches of samples offset..offset+n-1; auto-sharded inside threadsafe_gen's workers."""
    for index in range(n // batch):
        x, y = make_batch(index, batch)
        x[:, 0] += offset
        yield x, y


@threadsafe_generator
def failing_batches(fail_at: int = 3) -> Any:
    """Batches 0.. until *fail_at*, where the generator raises (self-sharded with shard())."""
    for index in shard(range(N_SAMPLES // BATCH)):
        if index == fail_at:
            msg = f"boom at batch {index}"
            raise ValueError(msg)
        yield make_batch(index)


#: (epoch, worker id) of every shard started by recorded_batches in this process.
SHARD_STARTS: list[tuple[int, int] | None] = []


@threadsafe_generator
def recorded_batches() -> Any:
    """id_batches that records which shard of which epoch started (thread workers only)."""
    from threadsafe_gen._sharding import current_worker_info

    info = current_worker_info()
    SHARD_STARTS.append(None if info is None else (info.epoch, info.id))
    for index in range(N_SAMPLES // BATCH):
        yield make_batch(index)


@threadsafe_generator
def pid_batches() -> Any:
    """id_batches with the producing process's pid in column 1 (self-sharded)."""
    import os

    for index in shard(range(N_SAMPLES // BATCH)):
        x, y = make_batch(index)
        x[:, 1] = os.getpid()
        yield x, y


@threadsafe_generator
def endless(batch: int = BATCH) -> Any:
    """An infinite generator of batches (ids keep growing)."""
    index = 0
    while True:
        yield make_batch(index, batch)
        index += 1


@threadsafe_generator
def numbered(n: int) -> Any:
    """The integers 0..n-1, one per item (for protocol-level properties)."""
    yield from range(n)


@threadsafe_generator
def short_then_long(n: int = N_SAMPLES, batch: int = BATCH) -> Any:
    """Like id_batches, but one batch more in every epoch after the first (an error)."""
    from threadsafe_gen._sharding import current_worker_info

    info = current_worker_info()
    extra = 1 if info is not None and info.epoch > 0 else 0
    for index in range(n // batch + extra):
        yield make_batch(index % (n // batch), batch)


def slow_getitem(args: tuple[Any, int]) -> Any:
    """ds[i] after 50 ms, so that a pool spreads the indices over all its workers."""
    import time

    ds, index = args
    time.sleep(0.05)
    return ds[index]


class AugSequence:
    """A pure function of the index, except for np.random (the augmentation)."""

    def __init__(
        self, n: int = N_SAMPLES, batch: int = BATCH, delay: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.n, self.batch, self.delay = n, batch, delay
        self.epochs_ended = 0

    def __len__(self) -> int:
        return self.n // self.batch

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        if self.delay:  # lets a pool spread the indices over all its workers
            import time

            time.sleep(self.delay)
        return make_batch(index, self.batch)

    def on_epoch_end(self) -> None:
        self.epochs_ended += 1


@guard(seed=1234)
class GuardedAugSequence(AugSequence):
    """AugSequence with the guard: duck-typed, no Keras."""


def _open_handle() -> dict[str, int]:
    """Stands in for a connection: remembers the process that opened it."""
    import os

    return {"pid": os.getpid()}


class RngResourceSequence(AugSequence):
    """Augmentation from rng_for(index, epoch) and a per-process handle checked on every call."""

    handle = per_process(_open_handle)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        import os

        if self.handle["pid"] != os.getpid():
            msg = f"handle opened in pid {self.handle['pid']} used in pid {os.getpid()}"
            raise RuntimeError(msg)
        x, y = make_batch(index, self.batch)
        rng = rng_for(index, epoch=current_epoch(self), seed=RNG_SEED)
        x[:, 1] = rng.random(self.batch, dtype="float32")
        return x, y


_lazy: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # Keras classes, built on first use so that importing this module stays light.
    if name in _lazy:
        return _lazy[name]
    cls: type
    if name == "CursorDataset":
        import keras

        def getitem(self: Any, index: int) -> Any:
            self.cursor = getattr(self, "cursor", 0) + 1  # the bug debug mode reports
            return make_batch(index)

        cls = guard(debug=True)(
            type(
                name,
                (AugSequence, keras.utils.PyDataset),
                {"__module__": __name__, "__getitem__": getitem},
            )
        )
    elif name == "RngResourceDataset":
        import keras

        cls = guard(debug=True)(
            type(name, (RngResourceSequence, keras.utils.PyDataset), {"__module__": __name__})
        )
    elif name in ("AugDataset", "GuardedAugDataset"):
        import keras

        cls = type(name, (AugSequence, keras.utils.PyDataset), {"__module__": __name__})
        if name == "GuardedAugDataset":
            cls = guard(seed=99)(cls)
    elif name in ("TfkAugSequence", "GuardedTfkAugSequence"):
        import tf_keras

        cls = type(name, (AugSequence, tf_keras.utils.Sequence), {"__module__": __name__})
        if name == "GuardedTfkAugSequence":
            cls = guard(seed=7)(cls)
    else:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    _lazy[name] = cls
    return cls
