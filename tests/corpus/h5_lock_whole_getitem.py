"""A Sequence that guards an open HDF5 file with a lock held around the whole `__getitem__`,
including the decoding work, trained with `fit(workers=8)` threads: correct data, but the
workers run one at a time, so workers=8 is as slow as workers=1."""

# Modelled on: fizyr/keras-retinanet:keras_retinanet/preprocessing/hdf5_generator.py (an HDF5
# file held open by a generator) with the `with self.lock:` around the read that threaded
# readers add after h5py errors.

from __future__ import annotations

import math
import threading
import time

import h5py
import numpy as np

from . import Expect
from ._data import write_h5


class HDF5Sequence:
    def __init__(self, path, batch_size):
        self.file = h5py.File(path, "r")
        self.batch_size = batch_size
        self.lock = threading.Lock()
        self.n = self.file["images"].shape[0]

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, idx):
        with self.lock:
            lo = idx * self.batch_size
            x = self.file["images"][lo : lo + self.batch_size]
            y = self.file["labels"][lo : lo + self.batch_size]
            time.sleep(0.01)  # decode and resize: the expensive part, needlessly serialised
            return np.log1p(np.abs(x)), y


def train(model, path):
    model.fit(HDF5Sequence(path, 64), epochs=10, workers=8, use_multiprocessing=False)


def make(ws):
    seq = HDF5Sequence(write_h5(ws.path / "data.h5", 32), 4)
    ws.stack.callback(seq.file.close)
    return seq


EXPECT = Expect(
    source="fizyr/keras-retinanet:keras_retinanet/preprocessing/hdf5_generator.py",
    loader=make,
    needs=("h5py",),
    check_kwargs={"workers": 8, "use_multiprocessing": False},
    lint_must={"TSG751"},
    check_must={"TSG701"},
    check_must_not={"TSG301", "TSG305", "TSG401", "TSG601"},
    why="The lock around all of __getitem__ serialises the 8 threads (TSG751 / TSG701). "
    "The file on self is used under the lock, from threads only.",
)
