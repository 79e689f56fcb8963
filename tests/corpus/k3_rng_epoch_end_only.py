"""A Keras 3 `PyDataset` that keeps a seeded `Generator` on self and uses it only in
`on_epoch_end` to reorder samples, in the parent; `__getitem__` is a pure function of the
index. Correct with 4 worker processes (issue 10 item 3)."""

# Modelled on: the CTextGenerator pattern (tf.keras Sequence shuffling its index array in
# on_epoch_end, slicing it in __getitem__), e.g. AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:
# datagenerator.py, with a seeded Generator object for reproducible epochs.

from __future__ import annotations

import math

import keras
import numpy as np

from . import Expect
from ._data import rows


class ShuffledRows(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(x))
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        take = self.order[idx * self.batch_size : (idx + 1) * self.batch_size]
        return self.x[take], self.y[take]

    def on_epoch_end(self):
        self.rng.shuffle(self.order)


def train(model, x, y):
    model.fit(ShuffledRows(x, y, 32, workers=4, use_multiprocessing=True), epochs=10)


def make(ws):
    x = rows(36, 4)
    return ShuffledRows(x, x[:, 0].copy(), 8, workers=4, use_multiprocessing=True)


EXPECT = Expect(
    source="AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:datagenerator.py",
    loader=make,
    check_kwargs={"start_method": "fork"},
    lint_must_not={"TSG551", "TSG651", "TSG353", "TSG352"},
    check_must_not={"TSG301", "TSG303", "TSG401", "TSG501", "TSG502", "TSG503"},
    why="The RNG is used only in on_epoch_end, which Keras runs in the parent (item 3); the "
    "workers never draw from it.",
)
