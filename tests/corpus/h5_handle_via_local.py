"""tf.keras `Sequence` that opens an HDF5 file in `__init__` and keeps its datasets, reached
through a local variable, for `fit(workers=4, use_multiprocessing=True)`: forked workers
share one HDF5 file handle (h5py is not fork-safe), and spawned ones cannot receive it."""

# Modelled on: fdarmon/VQA:dataset.py (a Sequence keeping h5py datasets of an open file as
# attributes, slicing them in __getitem__); the handle reached through a local is issue 10
# item 14's minimal shape.

from __future__ import annotations

import math

import h5py
import numpy as np
from tensorflow.keras.utils import Sequence

from . import Expect
from ._data import write_h5


class H5Dataset(Sequence):
    def __init__(self, path, batch_size):
        f = h5py.File(path, "r")
        self.images = f["images"]
        self.answers = f["labels"]
        self.batch_size = batch_size
        self.size = self.images.shape[0]

    def __len__(self):
        return math.ceil(self.size / self.batch_size)

    def __getitem__(self, idx):
        start = idx * self.batch_size
        end = min((idx + 1) * self.batch_size, self.size)
        return self.images[start:end], np.asarray(self.answers[start:end])


def train(model, path):
    model.fit(H5Dataset(path, 8), epochs=5, workers=4, use_multiprocessing=True)


def make(ws):
    data = H5Dataset(write_h5(ws.path / "data.h5", 40), 8)
    ws.stack.callback(data.images.file.close)
    return data


EXPECT = Expect(
    source="fdarmon/VQA:dataset.py",
    loader=make,
    needs=("h5py",),
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must={"TSG251"},
    lint_must_not={"TSG651:warning", "TSG651:error", "TSG353", "TSG352"},
    check_must={"TSG201"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="An h5py file opened once in the parent and used by forked workers (TSG201/TSG251); "
    "the slicing itself is a pure function of the index.",
)
