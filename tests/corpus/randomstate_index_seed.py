"""A Keras 2 image `Sequence` seeding `np.random.RandomState(index)` in `__getitem__` so runs
are reproducible: the augmentation of batch i is then the same in every epoch (issue 10
item 18)."""

# Modelled on: the DataGenerator(keras.utils.Sequence) pattern taking `random_seed=42` and
# `from numpy.random import RandomState`, e.g. AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:
# datagenerator.py for the template; the per-index seed is issue 10 item 18's shape.

from __future__ import annotations

import math

import numpy as np
from numpy.random import RandomState

from . import Expect
from ._data import rows


class DataGenerator:
    def __init__(self, images, labels, batch_size=8):
        self.images = images
        self.labels = labels
        self.batch_size = batch_size

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index):
        rng = RandomState(index)
        batch = self.images[index * self.batch_size : (index + 1) * self.batch_size]
        noise = rng.normal(0, 0.05, size=batch.shape).astype(np.float32)
        flip = rng.rand(len(batch)) < 0.5
        batch = np.where(flip[:, None], batch[:, ::-1], batch) + noise
        return batch, self.labels[index * self.batch_size : (index + 1) * self.batch_size]


def train(model, images, labels):
    model.fit_generator(DataGenerator(images, labels, 32), epochs=100, workers=4)


def make(ws):
    x = rows(32, 6)
    return DataGenerator(x, np.arange(32), 8)


EXPECT = Expect(
    source="AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:datagenerator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    check_must={"TSG502"},
    check_must_not={"TSG301", "TSG401", "TSG501"},
    lint_must_not={"TSG353"},
    why="Seeded by index alone: 100 epochs see the same augmentation of each batch (TSG502).",
)
