"""The SQLite example against a real PostgreSQL server: one connection per worker process.

A libpq connection is a socket with protocol state. Shared by forked workers, their
requests and replies interleave on one socket (replies read by the wrong worker, stalls;
docs/failure-modes.md rows 1.8 and 2b'''); it cannot be pickled to spawn workers at all.
``threadsafe_gen.per_process`` gives each process its own connection, opened on first use,
and never closes a parent's connection from a forked child.

Run it against a server you have (psycopg 3 connection string or URL)::

    python examples/postgres_sequence.py --dsn "host=127.0.0.1 port=5432 user=me dbname=test"
    TSG_PG_DSN=postgresql://me@localhost/test python examples/postgres_sequence.py

``tests/test_examples.py`` installs and starts a throwaway server for it (``tests/helpers/postgres.py``).
"""

from __future__ import annotations

import argparse
import functools
import math
import multiprocessing
import os
import sys

import keras
import numpy as np
import psycopg
from _common import BATCH_SIZE, N_SAMPLES, fit_and_count, make_rows, report

from threadsafe_gen import per_process


def create_table(dsn: str, table: str, rows: np.ndarray) -> None:
    """(Re)create `table` holding `rows` (column 0 is the id)."""
    columns = ", ".join(f"f{j} REAL" for j in range(1, rows.shape[1]))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, {columns})")
        with conn.cursor() as cur:
            marks = ", ".join(["%s"] * rows.shape[1])
            cur.executemany(
                f"INSERT INTO {table} VALUES ({marks})",
                [(int(r[0]), *map(float, r[1:])) for r in rows],
            )


def drop_table(dsn: str, table: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def connect(dsn: str) -> psycopg.Connection:
    """One read-only autocommit connection (no transaction left open between batches)."""
    return psycopg.connect(dsn, autocommit=True)


class PostgresDataset(keras.utils.PyDataset):
    """Batches of rows read from PostgreSQL; ``__getitem__`` is a pure function of the index."""

    def __init__(
        self, dsn: str, table: str, n: int, batch_size: int = BATCH_SIZE, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.n = n
        self.batch_size = batch_size
        self.db = per_process(functools.partial(connect, dsn), close=psycopg.Connection.close)

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        lo = index * self.batch_size
        hi = min(lo + self.batch_size, self.n)
        # One cursor per call: cursors are cheap, and a connection is used by one call at a time
        # in a worker process (psycopg serialises concurrent use of one connection anyway).
        with self.db.get().cursor() as cur:
            rows = cur.execute(
                f"SELECT * FROM {self.table} WHERE id >= %s AND id < %s ORDER BY id", (lo, hi)
            ).fetchall()
        x = np.asarray(rows, dtype=np.float32)
        return x, x[:, 1:2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn", default=os.environ.get("TSG_PG_DSN") or os.environ.get("DATABASE_URL")
    )
    parser.add_argument("--start-method", choices=["fork", "spawn", "forkserver"], default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not args.dsn:
        sys.exit("No PostgreSQL server: pass --dsn or set TSG_PG_DSN (see the module docstring).")
    if args.start_method:
        multiprocessing.set_start_method(args.start_method, force=True)
    table = f"tsg_example_{os.getpid()}"
    create_table(args.dsn, table, make_rows())
    try:
        loader = PostgresDataset(
            args.dsn, table, N_SAMPLES, workers=args.workers, use_multiprocessing=True
        )
        title = (
            f"PostgreSQL PyDataset, workers={args.workers} ({multiprocessing.get_start_method()})"
        )
        report(title, fit_and_count(loader))
        loader.db.close_all()
    finally:
        drop_table(args.dsn, table)


if __name__ == "__main__":
    main()
