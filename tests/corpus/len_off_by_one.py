"""A Sequence whose `__len__` is `len(ids) // batch_size + 1`: when the sample count divides
evenly, the last index serves an empty batch, which Keras then trains on (or fails on)."""

# Modelled on: abhidas03/book-classification:classes.py (the image-file Sequence template) with
# the `// batch_size + 1` length that copies of it use to "round up".

from __future__ import annotations

import numpy as np

from . import Expect
from ._data import rows


class DataGenerator:
    def __init__(self, x, y, batch_size):
        self.x, self.y = x, y
        self.batch_size = batch_size

    def __len__(self):
        return len(self.x) // self.batch_size + 1

    def __getitem__(self, idx):
        batch_x = self.x[idx * self.batch_size : (idx + 1) * self.batch_size]
        batch_y = self.y[idx * self.batch_size : (idx + 1) * self.batch_size]
        return np.array(batch_x), np.array(batch_y)


def train(model, x, y):
    model.fit(DataGenerator(x, y, 32), epochs=10, workers=2)


def make(ws):
    x = rows(32, 3)
    return DataGenerator(x, x[:, 0].copy(), 8)


EXPECT = Expect(
    source="abhidas03/book-classification:classes.py",
    loader=make,
    check_kwargs={"workers": 2, "use_multiprocessing": False},
    check_must={"TSG602|TSG601"},
    check_must_not={"TSG301", "TSG401", "TSG501", "TSG502"},
    why="32 samples in batches of 8: __len__ says 5, index 4 is empty (TSG602 or TSG601).",
)
