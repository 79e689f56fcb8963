"""Loaders that reproduce the problems users report with workers > 1.

Each class is what people really write, reduced to a few lines; the docstring names the
report and the row of the measured failure-modes catalog (docs/failure-modes.md) it
reproduces. ``check_examples.py`` runs ``threadsafe_gen.check_loader()`` over every one of
them (and over the good examples, which must come out clean) and prints the reports.

They are plain duck-typed sequences (``__len__`` + ``__getitem__``), which is exactly what
Keras 3's ``PyDataset`` and tf_keras' ``Sequence`` call, so checking them needs no
TensorFlow and spawn probes start fast. A ``keras.utils.PyDataset`` subclass with the same
body has the same problem and the same findings. All classes are at module level, so that
spawn/forkserver workers can import them -- except the one whose problem is that it is not.

Do not train with these: several of them hang, crash or duplicate data on purpose.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

N = 64  # samples
BATCH = 8  # batch size: 8 batches
FEATURES = 4


def rows(lo: int, hi: int) -> np.ndarray:
    """Rows lo..hi-1 of a deterministic dataset; column 0 is the sample id."""
    x = np.arange(lo, hi, dtype=np.float32)[:, None] * np.ones(FEATURES, dtype=np.float32)
    x[:, 1:] = np.sin(x[:, 1:] * np.arange(1, FEATURES, dtype=np.float32))
    return x


class _Base:
    """8 batches of 8 rows; subclasses break __getitem__ in one realistic way each."""

    def __len__(self) -> int:
        return math.ceil(N / BATCH)

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            msg = f"batch index {index} out of range(0, {len(self)})"
            raise IndexError(msg)
        x = rows(index * BATCH, min(N, (index + 1) * BATCH))
        return x, x[:, 1:2]


# ----------------------------------------------------------------------- pickling / spawn
class LockOnSelf(_Base):
    """``self.lock = threading.Lock()`` guarding __getitem__ (catalog 2a).

    Works with fork; with spawn or forkserver, Keras 3 fails at the first batch with
    ``TypeError: cannot pickle '_thread.lock' object``, not naming the attribute, and tf_keras
    hangs forever instead (catalog 7.3).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            return self.batch(index)


class LambdaAttribute(_Base):
    """A lambda stored as a transform (catalog 2c): ``Can't pickle local object ...<lambda>``."""

    def __init__(self) -> None:
        self.transform: Callable[[np.ndarray], np.ndarray] = lambda x: x * 2

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.batch(index)
        return self.transform(x), y


def make_local_class_loader() -> _Base:
    """A loader class defined inside a function (catalog 2c): spawn workers cannot import it."""

    class LocalLoader(_Base):
        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            return self.batch(index)

    return LocalLoader()


class BigArrayOnSelf(_Base):
    """A 64 MiB numpy array on the loader (catalog 2.0b): pickled into every spawn worker,
    every epoch (10-12 s per epoch for 128 MiB). Fix: ``threadsafe_gen.SharedArray``."""

    def __init__(self) -> None:
        self.table = np.zeros((N, 128 * 1024), dtype=np.float64)  # 64 rows of 1 MiB

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.batch(index)
        x[:, 1] += self.table[index * BATCH : (index + 1) * BATCH, 0]
        return x, y


# ----------------------------------------------------------------------- connections, files
class SQLiteInInit(_Base):
    """``sqlite3.connect()`` in __init__ (catalogs 1.7, 2b): fails even with workers=1, because
    Keras calls __getitem__ from a tf.data thread; cannot be pickled for spawn."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        ids = [i for (i,) in self.conn.execute(_BATCH_IDS, (index * BATCH, (index + 1) * BATCH))]
        x = rows(ids[0], ids[-1] + 1)
        return x, x[:, 1:2]


_BATCH_IDS = "SELECT id FROM samples WHERE id >= ? AND id < ? ORDER BY id"


def make_sqlite_db(directory: str) -> str:
    """A small SQLite file for the connection cases."""
    path = os.path.join(directory, "problems.sqlite")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS samples (id INTEGER PRIMARY KEY)")
        db.executemany("INSERT OR IGNORE INTO samples VALUES (?)", [(i,) for i in range(N)])
    db.close()
    return path


class SharedFileCursor(_Base):
    """One file object opened in __init__, ``seek()`` then ``read()`` per row (catalog 1.5, 2b''):
    threads (and forked workers, which share the kernel offset) read each other's rows."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "rb")  # noqa: SIM115 - the problem being shown
        self.row_bytes = FEATURES * 4

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        out = []
        for i in range(index * BATCH, min(N, (index + 1) * BATCH)):
            self.file.seek(i * self.row_bytes)
            time.sleep(0.0002)  # stands in for real I/O latency
            out.append(np.frombuffer(self.file.read(self.row_bytes), dtype=np.float32))
        x = np.stack(out)
        return x, x[:, 1:2]


def make_rows_file(directory: str) -> str:
    """All rows as one binary float32 file."""
    path = os.path.join(directory, "rows.bin")
    rows(0, N).tofile(path)
    return path


_LEAKED: list[Any] = []  # keep leaked handles alive, as a real leak would


class ConnectionPerCall(_Base):
    """Opens a new connection on every call and never closes it (fd leak per batch):
    after a few epochs the process hits ``Too many open files``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        conn = sqlite3.connect(self.path, check_same_thread=False)
        ids = [i for (i,) in conn.execute(_BATCH_IDS, (index * BATCH, (index + 1) * BATCH))]
        _LEAKED.append(conn)  # never closed
        x = rows(ids[0], ids[-1] + 1)
        return x, x[:, 1:2]


# ----------------------------------------------------------------------- shared state
def _gen_batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    while True:
        for index in range(N // BATCH):
            time.sleep(0.002)
            x = rows(index * BATCH, (index + 1) * BATCH)
            yield x, x[:, 1:2]


class GeneratorOnSelf(_Base):
    """A generator stored on self, ``__getitem__`` returns ``next(self.gen)`` (catalog 1.6):
    ``ValueError: generator already executing`` under threads, and the index is ignored."""

    def __init__(self) -> None:
        self.gen = _gen_batches()

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return next(self.gen)


class SharedCursor(_Base):
    """``__getitem__`` ignores the index and advances ``self.cursor`` (catalog 1.1): under 4
    threads 40-48 of 64 samples per epoch are duplicates, silently."""

    def __init__(self) -> None:
        self.cursor = 0

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        start = self.cursor
        time.sleep(0.002)  # I/O: another thread reads the same cursor meanwhile
        self.cursor = (start + BATCH) % N
        x = rows(start, start + BATCH)
        return x, x[:, 1:2]


class ReusedBuffer(_Base):
    """One preallocated buffer filled and returned without a copy (catalog 1.3): every queued
    batch aliases the same memory; 8 of 64 samples unique per epoch."""

    def __init__(self) -> None:
        self.buffer = np.empty((BATCH, FEATURES), dtype=np.float32)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        self.buffer[:] = rows(index * BATCH, (index + 1) * BATCH)
        return self.buffer, self.buffer[:, 1:2]


class UnlockedIterator:
    """The classic ``threadsafe_iter`` recipe with the lock forgotten in ``__next__``
    (catalog 4.3): ``RuntimeError: Your generator is NOT thread-safe`` in tf_keras."""

    def __init__(self, iterable: Iterator[Any]) -> None:
        self.it = iterable
        self.lock = threading.Lock()

    def __iter__(self) -> UnlockedIterator:
        return self

    def __next__(self) -> Any:
        return next(self.it)  # the `with self.lock:` is missing


def finite_batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A finite generator function: Keras 3 replays 2 batches in later epochs (catalog 3d),
    tf_keras with use_multiprocessing=True copies it into every worker (catalog 4.1)."""
    for index in range(N // BATCH):
        x = rows(index * BATCH, (index + 1) * BATCH)
        yield x, x[:, 1:2]


class _Table:
    """Where the "next unread row" lives: one counter for every reader (a class attribute)."""

    next_row = 0


def next_unread_rows() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Reads "the next unread rows" through one shared counter (catalog 6.4): right with one
    reader, but the readers that GeneratorDataset's workers or a tf.data interleave run at
    once split and repeat the rows between them."""
    _Table.next_row = 0
    while _Table.next_row < N:
        lo = _Table.next_row
        _Table.next_row = lo + BATCH
        x = rows(lo, lo + BATCH)
        yield x, x[:, 1:2]


class LockAroundGetitem(_Base):
    """The usual advice, a lock around the whole of __getitem__: safe, but 4 workers run one
    at a time, as slow as 1 (the I/O sleep is serialised too)."""

    _lock = threading.Lock()  # a class attribute: pickles fine, still serialises

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            time.sleep(0.01)  # I/O that could have overlapped
            return self.batch(index)


# ----------------------------------------------------------------------- randomness
class GlobalNumpyRandom(_Base):
    """Augmentation with the global ``np.random`` (catalogs 2d, 4.7): forked workers all
    replay the parent's RNG stream, and every epoch's new pool replays it again."""

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.batch(index)
        x[:, 1:] += np.random.normal(scale=0.1, size=x[:, 1:].shape).astype(np.float32)
        return x, y


class RngOnSelf(_Base):
    """``self.rng = np.random.default_rng()``: pickled (or forked) with its state into every
    worker, so workers repeat each other's and the previous epoch's noise (catalog 2d)."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng()

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.batch(index)
        x[:, 1:] += self.rng.normal(scale=0.1, size=x[:, 1:].shape).astype(np.float32)
        return x, y


# ----------------------------------------------------------------------- coverage, crash, hang
class LenTooLong(_Base):
    """``__len__`` rounds up one batch too many: the last index raises IndexError mid-epoch."""

    def __len__(self) -> int:
        return N // BATCH + 1

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        lo = index * BATCH
        if lo >= N:
            msg = f"no rows for batch {index}"
            raise IndexError(msg)
        x = rows(lo, lo + BATCH)
        return x, x[:, 1:2]


class ExitsInWorker(_Base):
    """A C library calls exit() in a worker process on one bad record (catalog 2f'): Keras 3's
    pool silently replaces the dead worker, loses the task, and fit() hangs forever.

    It only dies in a process other than the one that built it, as the real bug did (the
    parent's spec peek of batches 0-1 succeeds)."""

    def __init__(self) -> None:
        self.parent_pid = os.getpid()

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index == 2 and os.getpid() != self.parent_pid:
            os._exit(13)
        return self.batch(index)


class HangsOnIndex(_Base):
    """A batch that never returns (a lock never released, a network read without timeout;
    catalog 2f''): Keras has no per-batch timeout, so fit() hangs forever."""

    _never = threading.Event()

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index == 3:
            self._never.wait()  # forever
        return self.batch(index)


# ----------------------------------------------------------------------- the catalogue
@dataclasses.dataclass
class Case:
    """One problem: how to build the loader, how the user runs it, what the checker must say."""

    name: str
    report: str  # what the user saw
    make: Callable[[str], Any]  # called with a scratch directory
    expect: frozenset[str]  # the checker must report at least one of these codes
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # check_loader(**options)


def _threads(workers: int = 4) -> dict[str, Any]:
    return {"workers": workers, "use_multiprocessing": False}


def _procs(method: str, workers: int = 2) -> dict[str, Any]:
    return {"workers": workers, "use_multiprocessing": True, "start_method": method}


CASES: list[Case] = [
    Case(
        "lock_on_self_spawn",
        "TypeError: cannot pickle '_thread.lock' object at the first batch (spawn/forkserver)",
        lambda d: LockOnSelf(),
        frozenset({"TSG101", "TSG151"}),
        _procs("spawn"),
    ),
    Case(
        "lambda_attribute_spawn",
        "AttributeError: Can't pickle local object '...<lambda>'",
        lambda d: LambdaAttribute(),
        frozenset({"TSG101", "TSG102", "TSG151"}),
        _procs("spawn"),
    ),
    Case(
        "local_class_spawn",
        "AttributeError: Can't pickle local object 'make_local_class_loader.<locals>.LocalLoader'",
        lambda d: make_local_class_loader(),
        frozenset({"TSG102", "TSG101"}),
        _procs("spawn"),
    ),
    Case(
        "big_array_spawn",
        "every epoch takes 10 s longer under spawn than under fork",
        lambda d: BigArrayOnSelf(),
        frozenset({"TSG103"}),
        _procs("spawn"),
    ),
    Case(
        "sqlite_connection_in_init",
        "ProgrammingError: SQLite objects created in a thread can only be used in that same thread",
        lambda d: SQLiteInInit(make_sqlite_db(d)),
        frozenset({"TSG305", "TSG201", "TSG251", "TSG101"}),
        {"workers": 1, "use_multiprocessing": False},
    ),
    Case(
        "shared_file_object_threads",
        "a few wrong rows per epoch, or 'all input arrays must have the same shape'",
        lambda d: SharedFileCursor(make_rows_file(d)),
        frozenset({"TSG301", "TSG302", "TSG201", "TSG251"}),
        _threads(),
    ),
    Case(
        "connection_per_call",
        "OSError: [Errno 24] Too many open files after some epochs",
        lambda d: ConnectionPerCall(make_sqlite_db(d)),
        frozenset({"TSG721"}),
        _threads(2),
    ),
    Case(
        "generator_on_self_threads",
        "ValueError: generator already executing",
        lambda d: GeneratorOnSelf(),
        frozenset({"TSG302", "TSG301", "TSG151", "TSG101"}),
        _threads(),
    ),
    Case(
        "shared_cursor_threads",
        "accuracy fine, but the model only ever saw a quarter of the data (no error at all)",
        lambda d: SharedCursor(),
        frozenset({"TSG301", "TSG303", "TSG401", "TSG352"}),
        _threads(),
    ),
    Case(
        "reused_buffer_threads",
        "8 of 64 samples per epoch are unique (no error at all)",
        lambda d: ReusedBuffer(),
        frozenset({"TSG304", "TSG301", "TSG401"}),
        _threads(),
    ),
    Case(
        "unlocked_iterator_threads",
        "RuntimeError: Your generator is NOT thread-safe",
        lambda d: UnlockedIterator(_gen_batches()),
        frozenset({"TSG306", "TSG302", "TSG351"}),
        {**_threads(), "max_batches": 32},
    ),
    Case(
        "generator_with_processes",
        "every sample 4 times per epoch with tf_keras fit(gen, workers=4, use_multiprocessing=True)",
        lambda d: finite_batches,
        frozenset({"TSG402"}),
        _procs("fork", 4),
    ),
    Case(
        "generators_sharing_a_cursor",
        "GeneratorDataset(workers=4) trains on half the rows, some twice, and nothing fails",
        lambda d: next_unread_rows,
        frozenset({"TSG301"}),
        _threads(4),
    ),
    Case(
        "finite_generator_keras3",
        "epochs after the first train on only 16 samples: 'Your input ran out of data'",
        lambda d: finite_batches,
        frozenset({"TSG603"}),
        {"workers": 1, "use_multiprocessing": False},
    ),
    Case(
        "lock_around_getitem",
        "workers=4 is no faster than workers=1",
        lambda d: LockAroundGetitem(),
        frozenset({"TSG701"}),
        _threads(),
    ),
    Case(
        "global_np_random_fork",
        "augmentations repeat across workers and epochs (no error at all)",
        lambda d: GlobalNumpyRandom(),
        frozenset({"TSG501", "TSG502"}),
        _procs("fork"),
    ),
    Case(
        "rng_on_self",
        "the same noise in every epoch",
        lambda d: RngOnSelf(),
        frozenset({"TSG503", "TSG501", "TSG502"}),
        _procs("fork"),
    ),
    Case(
        "len_too_long",
        "IndexError in the last batch of every epoch",
        lambda d: LenTooLong(),
        frozenset({"TSG601", "TSG822"}),
        {"workers": 1, "use_multiprocessing": False},
    ),
    Case(
        "exit_in_worker",
        "fit() hangs after 2 batches, no error, CPU idle",
        lambda d: ExitsInWorker(),
        frozenset({"TSG821"}),
        {**_procs("fork"), "timeout": 30.0},
    ),
    Case(
        "hangs_on_index",
        "fit() hangs mid-epoch forever",
        lambda d: HangsOnIndex(),
        frozenset({"TSG801"}),
        {"workers": 1, "use_multiprocessing": False, "timeout": 20.0, "batch_timeout": 2.0},
    ),
]


def scratch_dir() -> str:
    """A temporary directory for the cases that need files (the caller removes it)."""
    return tempfile.mkdtemp(prefix="tsg_problems_")
