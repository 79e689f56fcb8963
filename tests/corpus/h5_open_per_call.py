"""Keras 3 `Sequence` that opens the HDF5 file inside each `__getitem__` with a `with`
block. Safe for any number of workers: no handle outlives a call."""

# Modelled on: williamsaether/BikeFit:data/H5DataGenerator.py (reads the length once with a
# `with h5py.File`, then reopens the file per batch).

from __future__ import annotations

import h5py
import keras.utils
import numpy as np

from . import Expect
from ._data import write_h5


# PyDataset is the new name of keras.utils.Sequence
class H5DataGenerator(keras.utils.Sequence):
    def __init__(self, h5_path, batch_size=32, **kwargs):
        super().__init__(**kwargs)
        self.h5_path = h5_path
        self.batch_size = batch_size
        with h5py.File(self.h5_path, "r") as f:
            self.dataset_length = f["images"].shape[0]
        self.indices = np.arange(self.dataset_length)

    def __len__(self):
        return int(np.ceil(self.dataset_length / self.batch_size))

    def __getitem__(self, index):
        batch_indices = self.indices[index * self.batch_size : (index + 1) * self.batch_size]
        with h5py.File(self.h5_path, "r") as f:
            batch_images = f["images"][batch_indices] / 255.0
            batch_labels = f["labels"][batch_indices]
        return batch_images, batch_labels


def train(model, path):
    data = H5DataGenerator(path, batch_size=8, workers=4, use_multiprocessing=True)
    model.fit(data, epochs=20)


def make(ws):
    return H5DataGenerator(
        write_h5(ws.path / "data.h5", 36), batch_size=8, workers=4, use_multiprocessing=True
    )


EXPECT = Expect(
    source="williamsaether/BikeFit:data/H5DataGenerator.py",
    loader=make,
    needs=("h5py",),
    check_kwargs={"start_method": "fork"},
    lint_must_not={"TSG251", "TSG352", "TSG353", "TSG651", "TSG551"},
    check_must_not={"TSG201", "TSG203", "TSG301", "TSG401", "TSG601", "TSG721"},
    why="Clean: the file is opened and closed per call, the loader passes its workers to "
    "super().__init__, and the last batch is sliced with ceil.",
)
