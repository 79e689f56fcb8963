"""Keras 2 `Sequence` of per-sample .npy files, reshuffled in `on_epoch_end`, trained with
`fit_generator(workers=6, use_multiprocessing=True)`. Correct for Keras 2: the indices are
shuffled in the parent between epochs, and each batch is a pure function of its index."""

# Modelled on: AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:datagenerator.py
# (the widespread "generate data on the fly" DataGenerator: list of IDs, np.load per ID,
# np.random.shuffle of the index array in on_epoch_end).

from __future__ import annotations

import keras
import numpy as np

from . import Expect
from ._data import labels, write_npy_samples


class DataGenerator(keras.utils.Sequence):
    "Generates data for Keras"

    def __init__(self, list_ids, targets, folder, batch_size=4, shuffle=True):
        self.list_ids = list_ids
        self.targets = targets
        self.folder = folder
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.on_epoch_end()

    def __len__(self):
        "Denotes the number of batches per epoch"
        return int(np.floor(len(self.list_ids) / self.batch_size))

    def __getitem__(self, index):
        "Generate one batch of data"
        indexes = self.indexes[index * self.batch_size : (index + 1) * self.batch_size]
        ids = [self.list_ids[k] for k in indexes]
        x = np.stack([np.load(f"{self.folder}/{i}.npy") for i in ids])
        y = np.array([self.targets[i] for i in ids])
        return x, y

    def on_epoch_end(self):
        "Updates indexes after each epoch"
        self.indexes = np.arange(len(self.list_ids))
        if self.shuffle:
            np.random.shuffle(self.indexes)


def train(model, list_ids, targets, folder):
    training_generator = DataGenerator(list_ids, targets, folder)
    model.fit_generator(
        generator=training_generator, epochs=10, workers=6, use_multiprocessing=True
    )


def make(ws):
    ids = write_npy_samples(ws.path / "samples", 32)
    return DataGenerator(ids, dict(zip(ids, labels(32), strict=False)), str(ws.path / "samples"))


EXPECT = Expect(
    source="AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:datagenerator.py",
    loader=make,
    check_kwargs={"workers": 6, "use_multiprocessing": True, "start_method": "fork"},
    lint_must_not={"TSG651", "TSG551", "TSG353", "TSG352"},
    check_must_not={"TSG301", "TSG303", "TSG401", "TSG501", "TSG502", "TSG503", "TSG601"},
    why="Keras 2 fit_generator honours workers= for a Sequence (item 1), and the RNG runs "
    "only in on_epoch_end, in the parent (item 3). Nothing to report.",
)
