"""A Sequence holding one psycopg connection opened in `__init__`, for
`fit_generator(workers=4, use_multiprocessing=True)`: forked workers share one server session
(one socket), so their queries interleave and fail with protocol errors."""

# Modelled on: sanghunkang/Classification_CNN:customhelpers/fetch_db_128.py (training samples
# fetched from PostgreSQL by id with `SELECT ... WHERE id=...` on one open connection).

from __future__ import annotations

import numpy as np
import psycopg

from . import Expect
from ._data import rows


class PostgresSequence:
    def __init__(self, dsn, batch_size):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.batch_size = batch_size
        self.n = self.conn.execute("SELECT count(*) FROM train_set").fetchone()[0]

    def __len__(self):
        return self.n // self.batch_size

    def __getitem__(self, idx):
        lo = idx * self.batch_size
        got = self.conn.execute(
            "SELECT x_y FROM train_set WHERE id >= %s AND id < %s ORDER BY id",
            (lo, lo + self.batch_size),
        ).fetchall()
        batch = np.stack([np.frombuffer(r[0], np.float32) for r in got])
        return batch[:, :-1], batch[:, -1]


def train(model, dsn):
    model.fit_generator(PostgresSequence(dsn, 32), epochs=4, workers=4, use_multiprocessing=True)


def create_table(dsn, table, n):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, x_y bytea)")
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} VALUES (%s, %s)",
                [(i, row.tobytes()) for i, row in enumerate(rows(n, 5))],
            )


def make(ws):
    dsn = ws.postgres()
    create_table(dsn, "train_set", 32)
    seq = PostgresSequence(dsn, 8)
    ws.stack.callback(seq.conn.close)
    return seq


EXPECT = Expect(
    source="sanghunkang/Classification_CNN:customhelpers/fetch_db_128.py",
    loader=make,
    needs=("psycopg",),
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must={"TSG251"},
    check_must={"TSG201|TSG203"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="One PostgreSQL session shared by forked workers (TSG251; TSG201 or TSG203).",
)
