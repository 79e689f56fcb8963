"""A Keras 2 `Sequence` whose `__len__` floors, dropping the last partial batch on purpose
(like `drop_remainder=True`), with shuffled indices and `fit_generator(workers=8,
use_multiprocessing=True)`. Correct."""

# Modelled on: mralinp/digital-image-processing-991:exercises/ex8/Generator.py (the Stanford
# template: `int(np.floor(len(self.list_IDs) / self.batch_size))`).

from __future__ import annotations

import numpy as np
from tensorflow import keras

from . import Expect
from ._data import rows


class generator(keras.utils.Sequence):  # the source's own class name
    def __init__(self, list_ids, data, labels, batch_size=32, shuffle=True):
        self.list_ids = list_ids
        self.data = data
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.on_epoch_end()

    def __len__(self):
        return int(np.floor(len(self.list_ids) / self.batch_size))

    def __getitem__(self, index):
        indexes = self.indexes[index * self.batch_size : (index + 1) * self.batch_size]
        ids = [self.list_ids[k] for k in indexes]
        return self.data[ids], self.labels[ids]

    def on_epoch_end(self):
        self.indexes = np.arange(len(self.list_ids))
        if self.shuffle:
            np.random.shuffle(self.indexes)


def train(model, ids, data, labels):
    model.fit_generator(
        generator(ids, data, labels), epochs=20, workers=8, use_multiprocessing=True
    )


def make(ws):
    return generator(list(range(30)), rows(30, 3), np.arange(30), batch_size=8)


EXPECT = Expect(
    source="mralinp/digital-image-processing-991:exercises/ex8/Generator.py",
    loader=make,
    check_kwargs={"workers": 8, "use_multiprocessing": True, "start_method": "fork"},
    lint_must_not={"TSG651", "TSG551", "TSG353", "TSG352"},
    check_must_not={"TSG601", "TSG602", "TSG301", "TSG401", "TSG501", "TSG502", "TSG503"},
    why="Floor in __len__ drops the remainder by design; the shuffle happens in the parent "
    "between epochs (items 1, 3).",
)
