"""A Sequence that connects to PostgreSQL lazily in each worker process through
`threadsafe_gen.per_process`, trained with 4 worker processes. Correct."""

# Modelled on: sanghunkang/Classification_CNN:customhelpers/fetch_db_128.py (samples fetched
# from PostgreSQL by id), with the connection made per process as threadsafe_gen recommends.

from __future__ import annotations

import numpy as np
import psycopg

import threadsafe_gen as tsg

from . import Expect
from .pg_shared_connection import create_table


def _connect(rows):
    return psycopg.connect(rows.dsn, autocommit=True)


class PostgresRows:
    conn = tsg.per_process(_connect, close=psycopg.Connection.close)

    def __init__(self, dsn, batch_size, n):
        self.dsn = dsn
        self.batch_size = batch_size
        self.n = n

    def __len__(self):
        return self.n // self.batch_size

    def __getitem__(self, idx):
        lo = idx * self.batch_size
        got = self.conn.execute(
            "SELECT x_y FROM train_rows WHERE id >= %s AND id < %s ORDER BY id",
            (lo, lo + self.batch_size),
        ).fetchall()
        batch = np.stack([np.frombuffer(r[0], np.float32) for r in got])
        return batch[:, :-1], batch[:, -1]


def train(model, dsn):
    model.fit_generator(PostgresRows(dsn, 32, 1000), workers=4, use_multiprocessing=True)


def make(ws):
    dsn = ws.postgres()
    create_table(dsn, "train_rows", 32)
    ws.stack.callback(PostgresRows.conn.close_all)
    return PostgresRows(dsn, 8, 32)


EXPECT = Expect(
    source="sanghunkang/Classification_CNN:customhelpers/fetch_db_128.py",
    loader=make,
    needs=("psycopg",),
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must_not={"TSG251", "TSG151"},
    check_must_not={"TSG101", "TSG201", "TSG203", "TSG301", "TSG401", "TSG721"},
    why="Clean: per_process opens one connection in each worker process.",
)
