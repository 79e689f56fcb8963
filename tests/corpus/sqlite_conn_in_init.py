"""A batch reader that opens one sqlite3 connection in `__init__` and queries it in
`__getitem__`, trained with `fit(workers=4)` threads: sqlite3 refuses a connection used from
another thread (ProgrammingError), and Keras calls `__getitem__` from its worker threads."""

# Modelled on: markelsanz14/Kaggle-Cdiscount:script_create_db.py (images stored as BLOBs in
# SQLite) and the batch-by-batch SQLite DataGenerator pattern (`self.con =
# sqlite3.connect(self.inputfile)` in __init__).

from __future__ import annotations

import math
import sqlite3

import numpy as np

from . import Expect
from ._data import write_sqlite


class DataGenerator:
    def __init__(self, inputfile, batch_size, idlist):
        self.inputfile = inputfile
        self.batch_size = batch_size
        self.idlist = idlist
        self.con = sqlite3.connect(self.inputfile)

    def __len__(self):
        return math.ceil(len(self.idlist) / self.batch_size)

    def __getitem__(self, idx):
        ids = self.idlist[idx * self.batch_size : (idx + 1) * self.batch_size]
        marks = ",".join("?" * len(ids))
        cur = self.con.execute(f"SELECT x, y FROM samples WHERE id IN ({marks}) ORDER BY id", ids)
        x, y = zip(*cur.fetchall(), strict=False)
        return np.stack([np.frombuffer(b, np.float32) for b in x]), np.asarray(y)


def train(model, path, ids):
    model.fit(DataGenerator(path, 16, ids), epochs=5, workers=4, use_multiprocessing=False)


def make(ws):
    gen = DataGenerator(write_sqlite(ws.path / "samples.db", 40), 8, list(range(40)))
    ws.stack.callback(gen.con.close)
    return gen


EXPECT = Expect(
    source="markelsanz14/Kaggle-Cdiscount:script_create_db.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must={"TSG251"},
    check_must={"TSG305"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="The sqlite3 connection is bound to the thread that made it; worker threads get "
    "ProgrammingError (TSG305; the handle on self is TSG251).",
)
