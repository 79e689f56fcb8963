"""A Keras 3 `PyDataset` flipping images with the global `np.random` in `__getitem__`, with
`workers=4, use_multiprocessing=True`: every forked worker inherits the same global RNG state,
so the "random" flips are the same in every worker."""

# Modelled on: JesusDMM/Modelos_IA:generator_images.py (a PyDataset with super().__init__) plus
# the `if np.random.rand() < 0.5: np.fliplr(...)` augmentation of countless tutorials.

from __future__ import annotations

import math

import keras
import numpy as np

from . import Expect


class FlippingDataset(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.batch_size = batch_size

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        batch = self.x[idx * self.batch_size : (idx + 1) * self.batch_size].copy()
        for k in range(len(batch)):
            if np.random.rand() < 0.5:
                batch[k] = np.fliplr(batch[k])
        batch += np.random.normal(0, 0.01, size=batch.shape).astype(np.float32)
        return batch, self.y[idx * self.batch_size : (idx + 1) * self.batch_size]


def train(model, x, y):
    model.fit(FlippingDataset(x, y, 32, workers=4, use_multiprocessing=True), epochs=30)


def make(ws):
    x = np.arange(24 * 4 * 4, dtype=np.float32).reshape(24, 4, 4)
    return FlippingDataset(x, np.arange(24), 6, workers=4, use_multiprocessing=True)


EXPECT = Expect(
    source="JesusDMM/Modelos_IA:generator_images.py",
    loader=make,
    check_kwargs={"start_method": "fork"},
    lint_must={"TSG551"},
    lint_must_not={"TSG651", "TSG353"},
    check_must={"TSG501"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="np.random's global state is copied into every forked worker (TSG551 / TSG501).",
)
