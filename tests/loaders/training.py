"""Importable Keras 3 loader and training run for the issue-2 proof (tests/test_keras_training.py).

Spawn and forkserver workers unpickle the dataset by class name, so it lives here at module
level. ``python -c "import loaders.training as t; t.main()" METHOD DB WORKERS`` sets the
multiprocessing start method (Keras uses the default context), trains, and prints JSON.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import sys
import threading
import time
from typing import Any

import keras
import numpy as np

import threadsafe_gen as tsg

N_SAMPLES = 64
BATCH = 8
EPOCHS = 2
SEED = 20_240_601
COLUMNS = ["id", "aug", "value", "pid", "epoch"]


def make_db(path: str) -> None:
    """Write the sample table: value = 3 * id + 1, so a row proves it came from SQLite."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE samples (id INTEGER PRIMARY KEY, value REAL)")
    conn.executemany(
        "INSERT INTO samples VALUES (?, ?)", [(i, 3 * i + 1) for i in range(N_SAMPLES)]
    )
    conn.commit()
    conn.close()


def connect(ds: SqliteAugmented) -> sqlite3.Connection:
    """This process's connection; Keras calls __getitem__ from several threads even with workers=1."""
    return sqlite3.connect(ds.path, check_same_thread=False, cached_statements=0)


class SqliteAugmented(keras.utils.PyDataset):  # type: ignore[misc]  # keras is untyped
    """Reads a batch of rows from SQLite (per_process) and adds an rng_for augmentation column."""

    db = tsg.per_process(connect, close=sqlite3.Connection.close)
    #: The tests record which process made each row; check_loader() rightly reports a batch
    #: that depends on the process, so the checked variant leaves it out.
    record_pid = True

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.epoch = 0

    def __len__(self) -> int:
        return N_SAMPLES // BATCH

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.db.execute(
            "SELECT id, value FROM samples WHERE id >= ? AND id < ? ORDER BY id",
            (index * BATCH, (index + 1) * BATCH),
        ).fetchall()
        ids = [row[0] for row in rows]
        aug = [tsg.rng_for(i, self.epoch, seed=SEED).random() for i in ids]
        pid = os.getpid() if self.record_pid else 0
        x = np.array(
            [[i, a, v, pid, self.epoch] for (i, v), a in zip(rows, aug, strict=True)],
            dtype=np.float64,
        )
        return x, x[:, 2:3].copy()

    def on_epoch_end(self) -> None:
        # Measured with Keras 3.15: fit() calls this once BEFORE the first epoch too
        # (EpochIterator.reset()), so the first training epoch sees epoch == 1. The tests only
        # rely on each training epoch seeing one value, different from the other epoch's.
        self.epoch += 1


class SqliteAugmentedChecked(SqliteAugmented):
    """The loader as a user would write it: batches depend only on (index, epoch)."""

    record_pid = False


def connect_same_thread(ds: SqliteAugmented) -> sqlite3.Connection:
    """A connection with SQLite's default check_same_thread=True: usable only in its thread."""
    return sqlite3.connect(ds.path)


class SqliteAugmentedPerThread(SqliteAugmented):
    """The same loader with one default (thread-bound) connection per thread."""

    db = tsg.per_thread(connect_same_thread, close=sqlite3.Connection.close)


RECORDED: list[np.ndarray] = []


class Recorder(keras.layers.Layer):  # type: ignore[misc]  # keras is untyped
    """Records the batches the model really trains on (eager mode only)."""

    def call(self, x: Any) -> Any:
        import tensorflow as tf

        if tf.executing_eagerly():
            RECORDED.append(np.array(x, dtype=np.float64))
        return x


def train(
    path: str, workers: int, use_multiprocessing: bool, *, per_thread: bool = False
) -> dict[str, Any]:
    """Fit a tiny model for EPOCHS epochs; return the rows seen, per epoch, as lists."""
    RECORDED.clear()
    keras.utils.set_random_seed(0)
    cls = SqliteAugmentedPerThread if per_thread else SqliteAugmented
    ds = cls(path, workers=workers, use_multiprocessing=use_multiprocessing)
    model = keras.Sequential(
        [
            keras.Input((len(COLUMNS),), dtype="float64"),
            Recorder(dtype="float64"),  # float64 compute: no autocast of the recorded values
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    model.fit(ds, epochs=EPOCHS, verbose=0)
    steps = len(ds)
    epochs = [np.concatenate(RECORDED[e * steps : (e + 1) * steps]) for e in range(EPOCHS)]
    cls.db.close_all()
    return {
        "steps": len(RECORDED),
        "rows": [e.tolist() for e in epochs],
        "parent_pid": os.getpid(),
        "start_method": multiprocessing.get_start_method(),
    }


class HeldLockDataset(keras.utils.PyDataset):  # type: ignore[misc]  # keras is untyped
    """A dataset whose lock a background "refresh" thread holds almost all the time.

    Failure-modes row 2a': with a raw threading.Lock, a worker forked while the refresher
    holds it inherits it locked, with no thread left to release it, and fit() hangs forever.
    """

    def __init__(self, lock: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lock = lock
        self.epoch = 0

    def __len__(self) -> int:
        return N_SAMPLES // BATCH

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            ids = np.arange(index * BATCH, (index + 1) * BATCH)
        x = np.stack([ids, ids * 0.0, 3 * ids + 1, ids * 0 + os.getpid(), ids * 0 + self.epoch], 1)
        return x.astype(np.float64), x[:, 2:3].copy()

    def on_epoch_end(self) -> None:
        self.epoch += 1


def refresh_forever(lock: Any) -> None:
    """Hold the lock 50 ms at a time with only a short gap, like a cache refresher thread."""
    while True:
        with lock:
            time.sleep(0.05)
        time.sleep(0.0005)


def train_held_lock(kind: str, workers: int) -> dict[str, Any]:
    """Fit on HeldLockDataset with fork workers while another thread holds the lock."""
    lock = tsg.Lock() if kind == "threadsafe_gen.Lock" else threading.Lock()
    threading.Thread(target=refresh_forever, args=(lock,), daemon=True).start()
    RECORDED.clear()
    keras.utils.set_random_seed(0)
    ds = HeldLockDataset(lock, workers=workers, use_multiprocessing=True)
    model = keras.Sequential(
        [
            keras.Input((len(COLUMNS),), dtype="float64"),
            Recorder(dtype="float64"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    model.fit(ds, epochs=EPOCHS, verbose=0)
    steps = len(ds)
    epochs = [np.concatenate(RECORDED[e * steps : (e + 1) * steps]) for e in range(EPOCHS)]
    return {
        "steps": len(RECORDED),
        "rows": [e.tolist() for e in epochs],
        "parent_pid": os.getpid(),
        "start_method": multiprocessing.get_start_method(),
    }


def main() -> None:
    """Entry point for a subprocess: METHOD DB WORKERS [LOCK] -> JSON of the run on stdout.

    With LOCK ("threadsafe_gen.Lock" or "threading.Lock") it trains HeldLockDataset instead.
    """
    method, path, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    multiprocessing.set_start_method(method, force=True)
    if method == "forkserver":
        # The server imports Keras/TF once; each worker is forked from it and still receives
        # the dataset by pickling. Without this every worker imports TF, every epoch.
        multiprocessing.set_forkserver_preload([__name__])
    if len(sys.argv) > 4:
        result = train_held_lock(sys.argv[4], workers)
    else:
        result = train(path, workers, use_multiprocessing=True)
    sys.stdout.write(json.dumps(result) + "\n")
