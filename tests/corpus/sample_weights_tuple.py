"""A Keras 2 `Sequence` returning `(x, y, sample_weight)` with weights from label frequencies
computed once, trained with `fit_generator(workers=4, use_multiprocessing=True)`. Correct."""

# Modelled on: the keras tests' sample_weight / class_weight setups (weights per sample from
# class frequencies), served from the Stanford template Sequence of
# Hann-THL/IMPORT_LIBS:lib/_class/DataGenerator.py.

from __future__ import annotations

import numpy as np
from keras.utils import Sequence

from . import Expect
from ._data import rows


class WeightedSequence(Sequence):
    def __init__(self, x, y, batch_size):
        self.x, self.y = x, y
        self.batch_size = batch_size
        counts = np.bincount(y)
        self.weight_of = (len(y) / (len(counts) * np.maximum(counts, 1))).astype(np.float32)

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, index):
        sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
        y = self.y[sl]
        return self.x[sl], y, self.weight_of[y]


def train(model, x, y):
    model.fit_generator(WeightedSequence(x, y, 128), epochs=15, workers=4, use_multiprocessing=True)


def make(ws):
    y = (np.arange(30) % 5 == 0).astype(np.int64)
    return WeightedSequence(rows(30, 4), y, 8)


EXPECT = Expect(
    source="Hann-THL/IMPORT_LIBS:lib/_class/DataGenerator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must_not={"TSG651", "TSG353", "TSG352"},
    check_must_not={"TSG301", "TSG401", "TSG601", "TSG624", "TSG501", "TSG502"},
    why="Clean: (x, y, w) with equal lengths, weights fixed before training.",
)
