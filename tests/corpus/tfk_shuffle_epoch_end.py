"""A tf_keras `Sequence` that shuffles in `on_epoch_end`, trained with `fit(workers=4)`:
correct data, but tf_keras's OrderedEnqueuer stalls up to 5 s per epoch boundary waiting for
its queue when `on_epoch_end` is overridden (TSG703, documented at info severity)."""

# Modelled on: Hann-THL/IMPORT_LIBS:lib/_class/DataGenerator.py (the Stanford template
# Sequence) with the shuffling on_epoch_end of the same template.

from __future__ import annotations

import numpy as np
import tf_keras

from . import Expect
from ._data import rows


class DataGenerator(tf_keras.utils.Sequence):
    def __init__(self, x, y, batch_size, shuffle=True):
        self.x = x
        self.y = y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.indexes = np.arange(len(x))

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, index):
        take = self.indexes[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[take], self.y[take]

    def on_epoch_end(self):
        if self.shuffle:
            np.random.shuffle(self.indexes)


def train(model, x, y):
    model.fit(DataGenerator(x, y, 64), epochs=30, workers=4, use_multiprocessing=False)


def make(ws):
    x = rows(40, 3)
    return DataGenerator(x, x[:, 0].copy(), 8)


EXPECT = Expect(
    source="Hann-THL/IMPORT_LIBS:lib/_class/DataGenerator.py",
    loader=make,
    needs=("tf_keras",),
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG651", "TSG551", "TSG353"},
    check_must_not={"TSG703:warning", "TSG703:error", "TSG301", "TSG401", "TSG501", "TSG502"},
    why="The data is correct; TSG703 is fair here (a real on_epoch_end under tf_keras with "
    "workers>1) but at its documented info severity (item 9).",
)
