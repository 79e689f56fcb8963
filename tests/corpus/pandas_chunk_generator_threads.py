"""A generator reading a CSV in chunks with `pd.read_csv(skiprows=..., nrows=...)` and a batch
counter, passed to `fit_generator(workers=4)` with threads and no lock: two threads then run
the generator at once ("generator already executing")."""

# Modelled on: sebafonte/machine-learning-examples:SIGID-GRC-capturer/variants/sigid-trashcode.py
# (batch_generator with an idx counter, load_data reading rows with skiprows and nrows).

from __future__ import annotations

import pandas as pd

from . import Expect
from ._data import write_csv


def load_data(train_csv, idx, batch_size):
    df = pd.read_csv(train_csv, skiprows=range(1, idx * batch_size + 1), nrows=batch_size)
    x = df[["f1", "f2", "f3"]].to_numpy("float32")
    return x, df["label"].to_numpy()


def batch_generator(train_csv, batch_size, steps):
    idx = 1
    while True:
        yield load_data(train_csv, idx - 1, batch_size)
        idx = idx + 1 if idx < steps else 1


def train(model, csv_path, steps):
    model.fit_generator(
        batch_generator(csv_path, 256, steps), steps_per_epoch=steps, epochs=3, workers=4
    )


def make(ws):
    return batch_generator(write_csv(ws.path / "train.csv", 160), 8, 20)


EXPECT = Expect(
    source="sebafonte/machine-learning-examples:SIGID-GRC-capturer/variants/sigid-trashcode.py",
    loader=make,
    needs=("pandas",),
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must={"TSG451"},
    check_must={"TSG302|TSG306"},
    check_must_not={"TSG304", "TSG401", "TSG603"},
    why="An unlocked generator shared by 4 worker threads (TSG451 / TSG302 or TSG306).",
)
