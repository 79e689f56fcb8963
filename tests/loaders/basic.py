"""Module-level loaders for test_check.py and the in-process probes' tests (test_probes_*.py).

Every loader reproduces one row of docs/failure-modes.md (named in its
docstring) or is its clean counterpart. They live at module scope so that spawn children
can import them. Sample ids sit in column 0 of ``x`` so duplicates can be counted. Keras
variants are in tests/loaders/basic_keras.py (TensorFlow is imported only there).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

import threadsafe_gen as tsg
from threadsafe_gen import threadsafe_generator

N = 64
BS = 8


class FaultyRecords:
    """`n` random-access records; kind makes record 9 hang, crash or raise, or the loader hold
    a raw lock ("lock") or threadsafe_gen's ("ourlock"). The torch and Grain loaders build on it."""

    n = N

    def __init__(self, kind: str = "ok") -> None:
        self.kind = kind
        if kind == "lock":
            self.lock: Any = threading.Lock()
        elif kind == "ourlock":
            self.lock = tsg.Lock()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        if i == 9:
            if self.kind == "hang":
                time.sleep(3600)
            if self.kind == "crash":
                os._exit(3)
            if self.kind == "raise":
                msg = f"corrupt record {i}"
                raise ValueError(msg)
        return np.float32(i)


def rows(start: int, stop: int, features: int = 4) -> np.ndarray:
    """Rows whose column 0 is the sample id (all rows distinct)."""
    ids = np.arange(start, stop, dtype=np.float32)
    return np.stack([ids + k / 10 for k in range(features)], axis=1)


def batch_for(index: int) -> tuple[np.ndarray, np.ndarray]:
    """The pure batch of *index*."""
    x = rows(index * BS, (index + 1) * BS)
    return x, x[:, 0].copy()


class CleanSeq:
    """Pure function of the index (docs/failure-modes.md row 1.0)."""

    def __init__(self, n_batches: int = N // BS) -> None:
        self.n_batches = n_batches

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < self.n_batches:
            raise IndexError(index)
        return batch_for(index)


class SleepySeq(CleanSeq):
    """Pure, and each call waits 3 ms (I/O): threads overlap it."""

    def __getitem__(self, index: int) -> Any:
        time.sleep(0.003)
        return super().__getitem__(index)


class CursorSeq(CleanSeq):
    """Ignores the index and advances a cursor with a 2 ms gap (docs/failure-modes.md row 1.1)."""

    def __init__(self, n_batches: int = N // BS, gap: float = 0.002) -> None:
        super().__init__(n_batches)
        self.cursor = 0
        self.gap = gap

    def __getitem__(self, index: int) -> Any:
        c = self.cursor
        time.sleep(self.gap)
        self.cursor = (c + 1) % len(self)
        return batch_for(c)


class BufferSeq(CleanSeq):
    """Fills one buffer on self and returns it without a copy (docs/failure-modes.md row 1.3)."""

    def __init__(self) -> None:
        super().__init__()
        self.buf = np.zeros((BS, 4), dtype=np.float32)

    def __getitem__(self, index: int) -> Any:
        self.buf[:] = batch_for(index)[0]
        return (self.buf,)


class RowBufferSeq(CleanSeq):
    """Fills a shared buffer row by row, then returns a copy (docs/failure-modes.md row 1.4)."""

    def __init__(self) -> None:
        super().__init__()
        self.buf = np.zeros((BS, 4), dtype=np.float32)

    def __getitem__(self, index: int) -> Any:
        x = batch_for(index)[0]
        for i in range(BS):
            self.buf[i] = x[i]
            time.sleep(0.0002)
        return (self.buf.copy(),)


class LockedSeq(SleepySeq):
    """Holds one lock around the whole __getitem__ (issue 3: performance)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def __getitem__(self, index: int) -> Any:
        with self.lock:
            return super().__getitem__(index)


_GLOBAL_LOCK = threading.Lock()


class GlobalLockSeq(SleepySeq):
    """Serialised by a module-level lock the checker cannot see on the loader."""

    def __getitem__(self, index: int) -> Any:
        with _GLOBAL_LOCK:
            return super().__getitem__(index)


class PartialLockSeq(CleanSeq):
    """Locks only a short shared step (0.2 ms) of a 3 ms call: workers still overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.calls = 0

    def __getitem__(self, index: int) -> Any:
        time.sleep(0.003)
        with self.lock:
            self.calls += 1
            time.sleep(0.0002)
        return super().__getitem__(index)


class SqliteSeq(CleanSeq):
    """sqlite3 connection made in __init__ with check_same_thread=True (docs/failure-modes.md row 1.7)."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute("create table t (id integer)")

    def __getitem__(self, index: int) -> Any:
        self.conn.execute("select count(*) from t").fetchone()
        return super().__getitem__(index)


class RaisingSeq(CleanSeq):
    """Raises ValueError on index 3 (docs/failure-modes.md row 2f)."""

    def __getitem__(self, index: int) -> Any:
        if index == 3:
            raise ValueError(f"boom at index {index}")
        return super().__getitem__(index)


class LenTooLongSeq(CleanSeq):
    """__len__ says 9 but index 8 raises IndexError."""

    def __len__(self) -> int:
        return self.n_batches + 1


class LenTooShortSeq(CleanSeq):
    """__len__ says 7 but index 7 still serves a full batch."""

    def __len__(self) -> int:
        return self.n_batches - 1


class FloorLenSeq(CleanSeq):
    """60 samples in batches of 8: __len__ rounds down, so the last 4 samples are never used."""

    def __init__(self) -> None:
        super().__init__()
        self.x = rows(0, 60)

    def __len__(self) -> int:
        return len(self.x) // BS

    def __getitem__(self, index: int) -> Any:
        x = self.x[index * BS : (index + 1) * BS]
        return x, x[:, 0]


class LazyPidSeq(CleanSeq):
    """Opens its connection lazily, keyed on the pid, from a -1 sentinel (lazy, not state)."""

    def __init__(self) -> None:
        super().__init__()
        self._pid = -1
        self._conn: sqlite3.Connection | None = None

    def __getitem__(self, index: int) -> Any:
        if self._pid != os.getpid():
            self._conn = sqlite3.connect(":memory:", check_same_thread=False)
            self._pid = os.getpid()
        return super().__getitem__(index)


class LazySqliteSeq(CleanSeq):
    """Opens a thread-bound connection on the first call (docs/failure-modes.md row 2b'): Keras' first two
    calls run on the fit() thread, later ones on another thread."""

    def __init__(self) -> None:
        super().__init__()
        self.conn: sqlite3.Connection | None = None

    def __getitem__(self, index: int) -> Any:
        if self.conn is None:
            self.conn = sqlite3.connect(":memory:")
        self.conn.execute("select 1").fetchone()
        return super().__getitem__(index)


class EmptyLastSeq(CleanSeq):
    """Off-by-one last batch: len is one too many and the last slice is empty."""

    def __init__(self) -> None:
        super().__init__()
        self.x = rows(0, N)

    def __len__(self) -> int:
        return N // BS + 1

    def __getitem__(self, index: int) -> Any:
        x = self.x[index * BS : (index + 1) * BS]
        return x, x[:, 0]


class DtypeChangeSeq(CleanSeq):
    """Batch 5 is float64 instead of float32."""

    def __getitem__(self, index: int) -> Any:
        x, y = super().__getitem__(index)
        return (x.astype(np.float64) if index == 5 else x), y


class ShapeChangeSeq(CleanSeq):
    """Batch 5 has 3 features instead of 4."""

    def __getitem__(self, index: int) -> Any:
        x, y = super().__getitem__(index)
        return (x[:, :3] if index == 5 else x), y


class StructureChangeSeq(CleanSeq):
    """Batch 5 returns a dict instead of a tuple."""

    def __getitem__(self, index: int) -> Any:
        x, y = super().__getitem__(index)
        return {"x": x, "y": y} if index == 5 else (x, y)


class InvalidBatchSeq(CleanSeq):
    """x and y disagree on the number of samples."""

    def __getitem__(self, index: int) -> Any:
        x, y = super().__getitem__(index)
        return x, y[:-1]


class FdLeakSeq(CleanSeq):
    """Opens a file per call and keeps it (a connection per call, never closed)."""

    def __init__(self) -> None:
        super().__init__()
        self.handles: list[Any] = []

    def __getitem__(self, index: int) -> Any:
        self.handles.append(open(os.devnull, "rb"))  # noqa: SIM115 - the leak is the point
        return super().__getitem__(index)

    def close(self) -> None:
        """Close the leaked handles (tests call it)."""
        for h in self.handles:
            h.close()
        self.handles.clear()


class ThreadLeakSeq(CleanSeq):
    """Starts a thread per call that lives on (a client per call)."""

    def __init__(self) -> None:
        super().__init__()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def __getitem__(self, index: int) -> Any:
        t = threading.Thread(target=self.stop.wait, daemon=True)
        t.start()
        self.threads.append(t)
        return super().__getitem__(index)

    def close(self) -> None:
        """Stop and join the leaked threads."""
        self.stop.set()
        for t in self.threads:
            t.join(5)


class MutatingSeq(CleanSeq):
    """Records the last index on self (issue 3: __getitem__ mutates the loader)."""

    def __init__(self) -> None:
        super().__init__()
        self.last_index = -1

    def __getitem__(self, index: int) -> Any:
        self.last_index = index
        return super().__getitem__(index)


class LazyInitSeq(CleanSeq):
    """Builds a lookup table on the first call (lazy initialisation from None)."""

    def __init__(self) -> None:
        super().__init__()
        self.table: np.ndarray | None = None

    def __getitem__(self, index: int) -> Any:
        if self.table is None:
            self.table = rows(0, N)
        x = self.table[index * BS : (index + 1) * BS]
        return x, x[:, 0]


class RandomSeq(CleanSeq):
    """Random augmentation from numpy's global RNG (docs/failure-modes.md row 2d; fine under threads)."""

    def __getitem__(self, index: int) -> Any:
        x, y = super().__getitem__(index)
        return x + np.random.normal(size=x.shape).astype(np.float32), y


class SamplingSeq(CleanSeq):
    """Draws a random sample of rows per call (bootstrap sampling): random, not a cursor."""

    def __init__(self) -> None:
        super().__init__()
        self.x = rows(0, N)

    def __getitem__(self, index: int) -> Any:
        x = self.x[np.random.choice(N, BS, replace=False)]
        return x, x[:, 0]


def gen_shuffled() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A generator function that shuffles its batches anew on every call (every epoch)."""
    for i in np.random.permutation(N // BS):
        yield batch_for(int(i))


class ZerosSeq(CleanSeq):
    """Legitimately identical rows: every sample is zeros."""

    def __getitem__(self, index: int) -> Any:
        return np.zeros((BS, 4), np.float32), np.zeros(BS, np.float32)


class WrapSeq(CleanSeq):
    """Index arithmetic that wraps after 4 batches: samples repeat, half are never served."""

    def __getitem__(self, index: int) -> Any:
        return super().__getitem__(index % 4)


class FewZerosSeq(CleanSeq):
    """Clean data with one legitimately repeated row (a padding sample in batch 0)."""

    def __getitem__(self, index: int) -> Any:
        x, y = super().__getitem__(index)
        if index == 0:
            x[1] = x[0]
            y[1] = y[0]
        return x, y


class HangSeq(CleanSeq):
    """Blocks on index 3 until .release() (docs/failure-modes.md row 2f'')."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def __getitem__(self, index: int) -> Any:
        if index == 3:
            self.gate.wait()
        return super().__getitem__(index)

    def release(self) -> None:
        """Let the stuck call return (tests call it so no thread outlives the test)."""
        self.gate.set()


class ExitSeq(CleanSeq):
    """os._exit(13) on index 2 (docs/failure-modes.md row 2f')."""

    def __getitem__(self, index: int) -> Any:
        if index == 2:
            os._exit(13)
        return super().__getitem__(index)


class ExitZeroSeq(CleanSeq):
    """sys.exit-like clean exit of the whole process (os._exit(0)) on index 1."""

    def __getitem__(self, index: int) -> Any:
        if index == 1:
            os._exit(0)
        return super().__getitem__(index)


class BigSeq(CleanSeq):
    """Holds a 20 MiB array that spawn would pickle into every worker (docs/failure-modes.md row 2.0b)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = np.zeros(20 * 2**20, dtype=np.uint8)


def _plus_one(v: float) -> float:
    return v + 1


class Augment:
    """A config object holding a lock (pickling paths through objects)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fn = _plus_one


class UnpicklableSeq(CleanSeq):
    """Holds a lock, a lambda deep in a dict, a generator, a connection (docs/failure-modes.md row 2a-2c, 5.1)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.cfg = {"aug": Augment(), "fns": [_plus_one, lambda v: v * 2]}
        self.gen = (i for i in range(3))
        self.conn = sqlite3.connect(":memory:")
        self.fine = {"a": [1, 2, 3], "b": np.arange(3)}


# --- generators and iterators -------------------------------------------------------------------


def gen_clean() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A finite generator of 8 pure batches."""
    for i in range(N // BS):
        yield batch_for(i)


def gen_infinite() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An infinite generator (steps_per_epoch style) of ever new samples."""
    i = 0
    while True:
        yield batch_for(i)
        i += 1


def gen_sleepy() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A generator that waits 2 ms inside (docs/failure-modes.md row 1.6: 'generator already executing')."""
    for i in range(N // BS):
        time.sleep(0.002)
        yield batch_for(i)


def gen_needs_args(n: int) -> Iterator[int]:
    """A generator function that cannot be called with no arguments."""
    yield from range(n)


class _SharedCursor:
    """The cursor that every iterator of gen_shared_cursor() shares (a class attribute)."""

    next_batch = 0


def gen_shared_cursor() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Rewinds and advances one shared cursor: right alone, split between iterators running
    at once (docs/failure-modes.md row 6.4, "the next unread row" of a table)."""
    _SharedCursor.next_batch = 0
    while True:
        i = _SharedCursor.next_batch
        if i >= N // BS:
            return
        time.sleep(0.001)
        _SharedCursor.next_batch = i + 1
        yield batch_for(i)


@threadsafe_generator
def safe_shared_cursor() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """gen_shared_cursor made thread-safe: next() is serialised, the shared cursor is not."""
    yield from gen_shared_cursor()


class RacyIterator:
    """An iterator class with a read-sleep-write cursor and no lock (silent race, 4.3)."""

    def __init__(self) -> None:
        self.i = 0

    def __iter__(self) -> RacyIterator:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        i = self.i
        if i >= N // BS:
            raise StopIteration
        time.sleep(0.002)
        self.i = i + 1
        return batch_for(i)


def make_racy() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A generator function returning a fresh RacyIterator each call."""
    yield from RacyIterator()


def gen_from_db(conn: sqlite3.Connection) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Reads through a connection made by the caller's thread (docs/failure-modes.md row 1.7, generators)."""
    for i in range(N // BS):
        conn.execute("select 1").fetchone()
        yield batch_for(i)


@threadsafe_generator
def safe_sleepy() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """gen_sleepy made thread-safe with @threadsafe_generator (module level: picklable)."""
    for i in range(N // BS):
        time.sleep(0.002)
        yield batch_for(i)
