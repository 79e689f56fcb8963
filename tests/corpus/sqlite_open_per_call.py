"""A Sequence that opens a short-lived sqlite3 connection per batch (`with closing(...)`),
trained with 4 worker processes. Correct: nothing is shared, nothing leaks."""

# Modelled on: markelsanz14/Kaggle-Cdiscount:script_create_db.py (images stored as BLOBs in
# SQLite), read per batch the way SQL batch generators do when they keep only the file name.

from __future__ import annotations

import math
import sqlite3
from contextlib import closing

import numpy as np

from . import Expect
from ._data import write_sqlite


class SQLBatchGenerator:
    def __init__(self, db_file, batch_size):
        self.db_file = db_file
        self.batch_size = batch_size
        with closing(sqlite3.connect(db_file)) as con:
            self.n = con.execute("SELECT COUNT(*) FROM samples").fetchone()[0]

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, idx):
        lo = idx * self.batch_size
        with closing(sqlite3.connect(self.db_file)) as con:
            got = con.execute(
                "SELECT x, y FROM samples ORDER BY id LIMIT ? OFFSET ?", (self.batch_size, lo)
            ).fetchall()
        x = np.stack([np.frombuffer(blob, np.float32) for blob, _ in got])
        return x, np.asarray([label for _, label in got])


def train(model, path):
    model.fit_generator(SQLBatchGenerator(path, 32), epochs=5, workers=4, use_multiprocessing=True)


def make(ws):
    return SQLBatchGenerator(write_sqlite(ws.path / "samples.db", 44), 8)


EXPECT = Expect(
    source="markelsanz14/Kaggle-Cdiscount:script_create_db.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must_not={"TSG251", "TSG352", "TSG353"},
    check_must_not={"TSG201", "TSG203", "TSG301", "TSG305", "TSG401", "TSG601", "TSG721"},
    why="Clean: one connection per call, closed; the last short batch is served correctly.",
)
