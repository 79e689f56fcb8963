"""A Sequence whose `__getitem__` calls `self._resize(i)`, which stores the batch's size on
self, then reads it back: with 4 worker threads a batch can take another batch's size
(issue 10 item 13's minimal shape)."""

# Modelled on: experiencor/keras-yolo3:generator.py (a helper that stores per-batch geometry on
# self and returns it), reduced to issue 10 item 13's `self._resize(i)` sets `self.size`.

from __future__ import annotations

import time

import numpy as np

from . import Expect
from ._data import rows


class ResizingSequence:
    def __init__(self, data, batch_size):
        self.data = data
        self.batch_size = batch_size
        self.size = 4

    def __len__(self):
        return len(self.data) // self.batch_size

    def _resize(self, i):
        self.size = 2 + i % 3
        time.sleep(0.002)  # decoding the images of this batch

    def __getitem__(self, i):
        self._resize(i)
        lo = i * self.batch_size
        x = self.data[lo : lo + self.batch_size, : self.size]
        return np.pad(x, ((0, 0), (0, 4 - self.size))), np.full(self.batch_size, i)


def train(model, data):
    model.fit(ResizingSequence(data, 8), epochs=5, workers=4)


def make(ws):
    return ResizingSequence(rows(64, 4), 8)


EXPECT = Expect(
    source="experiencor/keras-yolo3:generator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must={"TSG352"},
    check_must={"TSG301|TSG303"},
    check_must_not={"TSG501", "TSG502", "TSG623"},
    why="Per-call state on self read back after another thread may have rewritten it "
    "(TSG352; TSG301 or TSG303 in the check).",
)
