"""A tf.keras `Sequence` that opens its HDF5 file lazily on the first `__getitem__` call
(`if self.dataset is None`), with `fit(workers=4, use_multiprocessing=True)`: tf.keras reads
the first batch in the parent to peek at its shapes, so the handle is opened there and
inherited by every forked worker, which is exactly what the lazy open meant to avoid."""

# Modelled on: StanislasDucotterd/MFoE:dataset.py (an H5 dataset with `self.dataset = None` in
# __init__ and `if self.dataset is None: self.dataset = h5py.File(...)` in __getitem__).

from __future__ import annotations

import h5py
import numpy as np
from tensorflow.keras.utils import Sequence

from . import Expect
from ._data import write_h5


class H5Data(Sequence):
    def __init__(self, data_file, batch_size):
        self.data_file = data_file
        self.batch_size = batch_size
        self.dataset = None
        with h5py.File(self.data_file, "r") as file:
            self.n = file["images"].shape[0]

    def __len__(self):
        return int(np.ceil(self.n / self.batch_size))

    def __getitem__(self, idx):
        if self.dataset is None:
            self.dataset = h5py.File(self.data_file, "r")
        lo = idx * self.batch_size
        return self.dataset["images"][lo : lo + self.batch_size], self.dataset["labels"][
            lo : lo + self.batch_size
        ]


def train(model, path):
    model.fit(H5Data(path, 32), epochs=10, workers=4, use_multiprocessing=True)


def make(ws):
    data = H5Data(write_h5(ws.path / "data.h5", 28), 8)
    ws.stack.callback(lambda: data.dataset is not None and data.dataset.close())
    return data


EXPECT = Expect(
    source="StanislasDucotterd/MFoE:dataset.py",
    loader=make,
    needs=("h5py",),
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    check_must={"TSG203|TSG201|TSG303"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    lint_must={"TSG251|TSG352"},
    lint_must_not={"TSG651:warning", "TSG651:error", "TSG353"},
    why="The lazily opened handle is opened in the parent by Keras' peek and shared with "
    "forked workers (TSG203, or TSG201/TSG303 naming the handle; the assignment is TSG352 "
    "or TSG251 in lint).",
)
