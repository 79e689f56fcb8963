"""Module-level loaders for the process probes' tests (tests/test_probes_{fork,inspection,spawn,child}.py).

Spawned children import this module by name to unpickle the loaders, so every class and
function here lives at module scope. Loaders that crash or hang do so only in a child
process (their pid differs from the creating process's), so a bug in a probe can never
take the test process down with them. Keras 3 PyDatasets are in tests/loaders/processes_keras.py.
"""

from __future__ import annotations

import faulthandler
import os
import random
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

import threadsafe_gen
import threadsafe_gen.keras

N_BATCHES = 8
BATCH = 4


def batch_for(index: int) -> tuple[np.ndarray, np.ndarray]:
    """The pure batch of *index*: ids in column 0, labels are the ids."""
    ids = np.arange(index * BATCH, (index + 1) * BATCH, dtype=np.float32)
    x = np.stack([ids, ids * 0.5], axis=1)
    return x, ids.copy()


class PureSeq:
    """A duck-typed Sequence whose batches are a pure function of the index."""

    def __init__(self, n: int = N_BATCHES) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < self.n:
            raise IndexError(index)
        return batch_for(index)


class GlobalRandomSeq(PureSeq):
    """Augments with numpy's global RNG: forked workers replay the same noise."""

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = batch_for(index)
        return x + np.random.normal(size=x.shape).astype(np.float32), y


class RngOnSelfSeq(PureSeq):
    """Stores a numpy Generator on the loader (copied into every worker)."""

    def __init__(self, n: int = N_BATCHES) -> None:
        super().__init__(n)
        self.aug = {"rng": np.random.default_rng(0)}

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = batch_for(index)
        return x + self.aug["rng"].normal(size=x.shape).astype(np.float32), y


class StdlibRandomSeq(PureSeq):
    """Augments with stdlib random, which CPython reseeds in a forked child."""

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = batch_for(index)
        return x + np.float32(random.random()), y


class IndexSeededSeq(PureSeq):
    """Random augmentation keyed on the index alone: the same in every worker, and the same
    in every epoch (issue 10 item 18)."""

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = batch_for(index)
        rng = np.random.default_rng([1234, index])
        return x + rng.normal(size=x.shape).astype(np.float32), y


def make_db(path: str, rows: int = N_BATCHES * BATCH) -> str:
    """Create a SQLite file with *rows* ids and return its path."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT OR IGNORE INTO t VALUES (?)", [(i,) for i in range(rows)])
    conn.close()
    return path


class _SqliteBase(PureSeq):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def _rows(self, conn: sqlite3.Connection, index: int) -> tuple[np.ndarray, np.ndarray]:
        cur = conn.execute(
            "SELECT id FROM t WHERE id >= ? AND id < ? ORDER BY id",
            (index * BATCH, (index + 1) * BATCH),
        )
        ids = np.array([r[0] for r in cur.fetchall()], dtype=np.float32)
        return np.stack([ids, ids * 0.5], axis=1), ids


class SqliteInInitSeq(_SqliteBase):
    """sqlite3.connect() in __init__ (docs/failure-modes.md row 2b)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.conn = sqlite3.connect(path)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self._rows(self.conn, index)


class LazySqliteSeq(_SqliteBase):
    """Opens the connection on first use, without a pid check (docs/failure-modes.md row 2b')."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.conn: sqlite3.Connection | None = None

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self.conn is None:
            self.conn = sqlite3.connect(self.path)
        return self._rows(self.conn, index)


class PidSqliteSeq(_SqliteBase):
    """Opens the connection lazily per process and drops it when pickled: fork- and spawn-safe."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "n": self.n, "_conn": None, "_pid": -1}

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self._conn is None or self._pid != os.getpid():
            self._conn = sqlite3.connect(self.path, check_same_thread=False)
            self._pid = os.getpid()
        return self._rows(self._conn, index)


class _ChildOnly(PureSeq):
    """Misbehaves at index >= bad, but only in a process other than its creator."""

    def __init__(self, bad: int = 2) -> None:
        super().__init__()
        self.bad = bad
        self.creator = os.getpid()

    def misbehave(self) -> None:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index >= self.bad and os.getpid() != self.creator:
            self.misbehave()
        return batch_for(index)


class ExitInWorkerSeq(_ChildOnly):
    """Calls os._exit(13) in a worker (docs/failure-modes.md row 2f')."""

    def misbehave(self) -> None:
        os._exit(13)


class SegfaultInWorkerSeq(_ChildOnly):
    """Kills its own worker with SIGSEGV, as a crash in native code would."""

    def misbehave(self) -> None:
        faulthandler.disable()  # pytest's handler would print this expected crash
        os.kill(os.getpid(), signal.SIGSEGV)


class HangInWorkerSeq(_ChildOnly):
    """Never returns in a worker (docs/failure-modes.md row 2f'')."""

    def misbehave(self) -> None:
        time.sleep(3600)


class LockedSeq(PureSeq):
    """Holds a raw threading.Lock, which a background thread takes now and then."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def refresh_forever(self) -> None:
        while not self.stop.wait(0.005):
            with self.lock:
                time.sleep(0.005)


class OwnLockSeq(PureSeq):
    """Holds one of threadsafe_gen's lock proxies (re-created in forked children)."""

    def __init__(self, lock: Any) -> None:
        super().__init__()
        self.lock = lock


class HandlesSeq(PureSeq):
    """Holds an open file and a connected socket pair in nested containers."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.files = [open(path, "rb")]  # noqa: SIM115 - the test closes it
        a, b = socket.socketpair()
        self.net = {"sock": a, "peer": b}

    def close(self) -> None:
        self.files[0].close()
        self.net["sock"].close()
        self.net["peer"].close()


class DropsStateSeq(PureSeq):
    """Pickles without its lookup table: works in the parent, raises in a spawned worker."""

    def __init__(self) -> None:
        super().__init__()
        self.table = {i: batch_for(i) for i in range(self.n)}

    def __getstate__(self) -> dict[str, Any]:
        return {"n": self.n}

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.table[index]


class ReshuffledOnUnpickleSeq(PureSeq):
    """Rebuilds its permutation from fresh entropy when unpickled: other data in workers."""

    def __init__(self) -> None:
        super().__init__()
        self.perm = np.arange(self.n * BATCH)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.perm = np.random.default_rng().permutation(self.n * BATCH)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        ids = self.perm[index * BATCH : (index + 1) * BATCH].astype(np.float32)
        return np.stack([ids, ids], axis=1), ids


def gen_batches(n: int = N_BATCHES) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A generator function of pure batches."""
    for i in range(n):
        yield batch_for(i)


def make_local_class_loader() -> PureSeq:
    """A loader whose class is defined inside a function (cannot be pickled by name)."""

    class LocalSeq(PureSeq):
        pass

    return LocalSeq()


def _connect_owner(owner: PerProcessSqliteSeq) -> sqlite3.Connection:
    return sqlite3.connect(owner.path, check_same_thread=False, cached_statements=0)


class PerProcessSqliteSeq(_SqliteBase):
    """The recommended fix: one connection per process through threadsafe_gen.per_process."""

    conn = threadsafe_gen.per_process(_connect_owner, close=sqlite3.Connection.close)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self._rows(self.conn, index)


class RngForSeq(PureSeq):
    """The recommended fix for random augmentation: threadsafe_gen.rng_for(index, epoch)."""

    def __init__(self, n: int = N_BATCHES) -> None:
        super().__init__(n)
        self.epoch = 0
        self.lock = threadsafe_gen.Lock()

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = batch_for(index)
        rng = threadsafe_gen.rng_for(index, epoch=self.epoch, seed=7)
        return x + rng.normal(size=x.shape).astype(np.float32), y

    def on_epoch_end(self) -> None:
        self.epoch += 1


ROW_BYTES = 4096


def make_rows_file(path: str, rows: int = N_BATCHES) -> str:
    """A binary file of *rows* rows of ROW_BYTES bytes; row i is filled with byte i."""
    with open(path, "wb") as f:
        for i in range(rows):
            f.write(bytes([i]) * ROW_BYTES)
    return path


class SharedOffsetFileSeq(PureSeq):
    """Seeks and reads one descriptor opened in __init__: forked workers share its offset (2b'')."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.fd = os.open(path, os.O_RDONLY)

    def close(self) -> None:
        os.close(self.fd)

    def fileno(self) -> int:
        return self.fd

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        os.lseek(self.fd, index * ROW_BYTES, os.SEEK_SET)
        time.sleep(0.05)  # I/O latency: another process moves the shared offset meanwhile
        row = np.frombuffer(os.read(self.fd, ROW_BYTES), dtype=np.uint8)
        return row.reshape(1, -1).astype(np.float32), row[:1].astype(np.float32)


@threadsafe_gen.keras.guard
class GuardedRandomSeq(GlobalRandomSeq):
    """GlobalRandomSeq fixed by threadsafe_gen.keras.guard (reseeds per worker and epoch)."""


class ShapedSeq:
    """A pure loader of any length, batch size, feature shape and dtype (for properties)."""

    def __init__(self, n: int, batch: int, features: tuple[int, ...], dtype: str) -> None:
        self.n, self.batch, self.features, self.dtype = n, batch, features, dtype

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([index, self.batch])  # keyed: pure in the index
        x = rng.integers(0, 100, size=(self.batch, *self.features)).astype(self.dtype)
        return x, np.full(self.batch, index, dtype=np.int64)


class HeldLockSeq(PureSeq):
    """Takes self.lock in workers while a parent thread holds it for good (docs/failure-modes.md row 2a').

    The parent's own calls skip the lock so the test's peek cannot block; every forked worker
    inherits the lock in its held state, with no thread left to release it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.creator = os.getpid()
        self.stop = threading.Event()
        self.taken = threading.Event()

    def hold(self) -> None:
        with self.lock:
            self.taken.set()
            self.stop.wait()

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if os.getpid() != self.creator:
            with self.lock:
                return batch_for(index)
        return batch_for(index)
