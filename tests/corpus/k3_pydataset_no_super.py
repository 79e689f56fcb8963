"""A Keras 3 `PyDataset` subclass that never calls `super().__init__()`, trained with
`fit(data, workers=8, use_multiprocessing=True)` as in Keras 2: Keras 3 has no such fit
arguments, and the dataset's own (default) settings run it on one worker."""

# Modelled on: the DataProvider(keras.utils.Sequence) pattern that pops workers /
# use_multiprocessing itself, and williamsaether/BikeFit:data/H5DataGenerator.py (a keras 3
# `keras.utils.Sequence` without super().__init__).

from __future__ import annotations

import keras
import numpy as np

from . import Expect
from ._data import rows


class ArrayDataset(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        self.x = x
        self.y = y
        self.batch_size = batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, idx):
        sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        return self.x[sl], self.y[sl]


def train(model, x, y):
    model.fit(ArrayDataset(x, y, 64), epochs=10, workers=8, use_multiprocessing=True)


def make(ws):
    x = rows(20, 3)
    return ArrayDataset(x, x[:, 0].copy(), 8)


EXPECT = Expect(
    source="williamsaether/BikeFit:data/H5DataGenerator.py",
    loader=make,
    check_kwargs={"workers": 1, "use_multiprocessing": False},
    lint_must={"TSG651"},
    lint_must_not={"TSG353"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="Keras 3 (a PyDataset) ignores, in fact rejects, fit(workers=8): the workers belong "
    "in super().__init__(**kwargs) (TSG651).",
)
