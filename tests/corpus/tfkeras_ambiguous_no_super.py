"""A `tensorflow.keras` `Sequence` without `super().__init__()`, trained with
`fit(seq, workers=4)`: right on TensorFlow < 2.16 (tf.keras is Keras 2), wrong on 2.16+
(Keras 3). The file cannot tell which, so a finding may say so at info severity, but must not
state Keras 3 behaviour as fact (issue 10 item 1)."""

# Modelled on: Hann-THL/IMPORT_LIBS:lib/_class/DataGenerator.py (`from tensorflow.keras.utils
# import Sequence`, no super().__init__) trained with fit(..., workers=...).

from __future__ import annotations

import numpy as np
from tensorflow.keras.utils import Sequence

from . import Expect
from ._data import rows


class DataGenerator(Sequence):
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
    model.fit(DataGenerator(X, y, 32), epochs=10, workers=4)


def make(ws):
    x = rows(20, 3)
    return DataGenerator(x, x[:, 0].copy(), 8)


EXPECT = Expect(
    source="Hann-THL/IMPORT_LIBS:lib/_class/DataGenerator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG651:warning", "TSG651:error", "TSG353"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="tensorflow.keras is Keras 2 or 3 depending on the TensorFlow version: at most an "
    "info finding saying so (item 1).",
)
