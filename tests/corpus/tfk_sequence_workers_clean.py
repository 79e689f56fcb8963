"""A tf_keras `Sequence` of tabular rows passed to `fit(workers=6, use_multiprocessing=True)`:
tf_keras honours those arguments for a Sequence, and the batches are pure functions of the
index. Correct (issue 10 item 1: no TSG651)."""

# Modelled on: Hann-THL/IMPORT_LIBS:lib/_class/DataGenerator.py (a Sequence slicing X and y by
# batch index), written against tf_keras as legacy Keras 2 code is after TF 2.16.

from __future__ import annotations

import numpy as np
import tf_keras as keras

from . import Expect
from ._data import rows


class RowSequence(keras.utils.Sequence):
    def __init__(self, X, y, batch_size):
        self.X = X
        self.y = y
        self.batch_size = batch_size

    def __len__(self):
        return int(np.ceil(len(self.X) / self.batch_size))

    def __getitem__(self, index):
        batch_X = self.X[index * self.batch_size : (index + 1) * self.batch_size]
        batch_y = self.y[index * self.batch_size : (index + 1) * self.batch_size]
        return batch_X, batch_y


def train(model, X, y):
    model.fit(RowSequence(X, y, 256), epochs=5, workers=6, use_multiprocessing=True)


def make(ws):
    x = rows(50, 5)
    return RowSequence(x, x[:, :1].copy(), 8)


EXPECT = Expect(
    source="Hann-THL/IMPORT_LIBS:lib/_class/DataGenerator.py",
    loader=make,
    needs=("tf_keras",),
    check_kwargs={"workers": 6, "use_multiprocessing": True, "start_method": "fork"},
    lint_must_not={"TSG651", "TSG353", "TSG352", "TSG551"},
    check_must_not={"TSG301", "TSG401", "TSG501", "TSG502", "TSG601"},
    why="Clean: tf_keras (Keras 2) takes workers= in fit for a Sequence (item 1).",
)
