"""A Sequence drawing its augmentation from `threadsafe_gen.rng_for(index, epoch=...)` with the
epoch counted in `on_epoch_end`, trained with 4 worker processes. Correct: different per
batch and per epoch, the same in every worker."""

# Modelled on: experiencor/keras-yolo3:generator.py (per-batch random jitter of images) rewritten
# the way threadsafe_gen's docs recommend (rng_for keyed on index and epoch).

from __future__ import annotations

import math

import numpy as np

import threadsafe_gen as tsg

from . import Expect
from ._data import rows


class JitteredImages:
    def __init__(self, images, labels, batch_size):
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.epoch = 0

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index):
        rng = tsg.rng_for(index, epoch=self.epoch)
        sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
        batch = self.images[sl]
        return batch + rng.normal(0, 0.1, size=batch.shape).astype(np.float32), self.labels[sl]

    def on_epoch_end(self):
        self.epoch += 1


def train(model, images, labels):
    model.fit(JitteredImages(images, labels, 16), epochs=10, workers=4, use_multiprocessing=True)


def make(ws):
    return JitteredImages(rows(32, 6), np.arange(32), 8)


EXPECT = Expect(
    source="experiencor/keras-yolo3:generator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must_not={"TSG551", "TSG352", "TSG353"},
    check_must_not={"TSG301", "TSG303", "TSG401", "TSG501", "TSG502", "TSG503"},
    why="Clean: randomness keyed on (index, epoch), the epoch counted in the parent.",
)
