"""A SQLite-backed Keras 3 PyDataset with one connection per worker process.

Problem it solves: a ``sqlite3.Connection`` opened in ``__init__`` cannot be pickled to
spawn/forkserver workers, is shared (and refused: ``check_same_thread``) by forked workers,
and even with ``workers=1`` Keras calls ``__getitem__`` from a tf.data thread, not the thread
that opened it (docs/failure-modes.md rows 1.7, 2b, 2b'). ``threadsafe_gen.per_process``
opens one connection lazily in each process that uses it, so the dataset pickles without
it and a forked worker never touches its parent's connection.

Run it::

    python examples/sqlite_sequence.py                       # process workers, default start method
    python examples/sqlite_sequence.py --start-method spawn  # also forkserver
"""

from __future__ import annotations

import argparse
import functools
import math
import multiprocessing
import os
import sqlite3
import tempfile

import keras
import numpy as np
from _common import BATCH_SIZE, N_SAMPLES, fit_and_count, make_rows, report

from threadsafe_gen import per_process


def create_database(path: str, rows: np.ndarray) -> None:
    """Write `rows` (column 0 is the id) to a `samples` table."""
    columns = ", ".join(f"f{j} REAL" for j in range(1, rows.shape[1]))
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE samples (id INTEGER PRIMARY KEY, {columns})")
        marks = ", ".join("?" * rows.shape[1])
        db.executemany(
            f"INSERT INTO samples VALUES ({marks})", [tuple(map(float, r)) for r in rows]
        )
    db.close()


def connect(path: str) -> sqlite3.Connection:
    """Open the database read-only.

    ``check_same_thread=False``: within one process Keras may call ``__getitem__`` from a
    thread other than the one that opened the connection (its spec peek runs on the main
    thread, later batches on a tf.data or pool thread). Read-only queries through one
    connection per process are safe, with ``cached_statements=0``: from Python 3.12, threads
    sharing a connection can be handed the same cached statement and read wrong or missing rows
    (CPython gh-118172; docs/known-issues.md).
    """
    return sqlite3.connect(
        f"file:{path}?mode=ro", uri=True, check_same_thread=False, cached_statements=0
    )


class SQLiteDataset(keras.utils.PyDataset):
    """Batches of rows read from SQLite; ``__getitem__`` is a pure function of the index."""

    def __init__(self, path: str, n: int, batch_size: int = BATCH_SIZE, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.n = n
        self.batch_size = batch_size
        # A module-level factory (functools.partial of one) pickles by name for spawn workers.
        self.db = per_process(functools.partial(connect, path), close=sqlite3.Connection.close)

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        lo = index * self.batch_size
        hi = min(lo + self.batch_size, self.n)
        rows = (
            self.db.get()
            .execute("SELECT * FROM samples WHERE id >= ? AND id < ? ORDER BY id", (lo, hi))
            .fetchall()
        )
        x = np.asarray(rows, dtype=np.float32)
        return x, x[:, 1:2]


def make_loader(
    directory: str, *, workers: int = 2, use_multiprocessing: bool = True
) -> SQLiteDataset:
    """Create the database in `directory` and return the dataset (used by check_examples.py)."""
    path = os.path.join(directory, "samples.sqlite")
    if not os.path.exists(path):
        create_database(path, make_rows())
    return SQLiteDataset(path, N_SAMPLES, workers=workers, use_multiprocessing=use_multiprocessing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-method", choices=["fork", "spawn", "forkserver"], default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", action="store_true", help="thread workers instead of processes"
    )
    args = parser.parse_args()
    if args.start_method:
        multiprocessing.set_start_method(args.start_method, force=True)
    with tempfile.TemporaryDirectory() as tmp:
        loader = make_loader(tmp, workers=args.workers, use_multiprocessing=not args.threads)
        mode = "threads" if args.threads else multiprocessing.get_start_method()
        report(f"SQLite PyDataset, workers={args.workers} ({mode})", fit_and_count(loader))
        loader.db.close_all()


if __name__ == "__main__":
    main()
