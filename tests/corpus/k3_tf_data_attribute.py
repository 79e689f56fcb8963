"""A Keras 3 `PyDataset` that keeps a `tf.data.Dataset` of file names on self (to count and
list them) while `__getitem__` reads plain numpy data. One unpicklable attribute: under spawn
that is one finding, not one per tf.data internal (issue 10 item 8)."""

# Modelled on: halfbloodprincecode/colab-dependencies:tfDataset.py (tf.data.Dataset objects
# built from file lists and kept on the object) and JesusDMM/Modelos_IA:generator_images.py
# (a PyDataset with super().__init__(**kwargs)).

from __future__ import annotations

import math

import keras
import tensorflow as tf

from . import Expect
from ._data import rows


class FileBackedRows(keras.utils.PyDataset):
    def __init__(self, x, batch_size, file_names, **kwargs):
        super().__init__(**kwargs)
        self.files = tf.data.Dataset.from_tensor_slices(file_names)
        self.x = x
        self.batch_size = batch_size

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        batch = self.x[idx * self.batch_size : (idx + 1) * self.batch_size]
        return batch, batch[:, :1]


def train(model, x, names):
    data = FileBackedRows(x, 32, names, workers=4, use_multiprocessing=True)
    model.fit(data, epochs=3)


def make(ws):
    names = [f"part-{i}.npy" for i in range(4)]
    return FileBackedRows(rows(24, 3), 8, names, workers=4, use_multiprocessing=True)


EXPECT = Expect(
    source="halfbloodprincecode/colab-dependencies:tfDataset.py",
    loader=make,
    check_kwargs={"start_method": "spawn"},
    check_must={"TSG101"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    at_most={"TSG101": 1},
    why="With spawn workers the tf.data.Dataset on self cannot be pickled: one TSG101 for "
    "loader.files.",
)
