"""A Keras 3 `PyDataset` for a model with two inputs and two outputs, returning
`({"image", "meta"}, {"label", "box"}, {"label": w, "box": w})` with per-output sample
weights, and `workers=4` threads. Correct."""

# Modelled on: fdarmon/VQA:dataset.py (a Sequence returning [question, image] inputs) and the
# multi-output Sequence of the seismic project behind `OUTS = ('ref', 'vrms', ...)`, with
# Keras' dict form of sample weights.

from __future__ import annotations

import math

import keras
import numpy as np

from . import Expect
from ._data import rows


class MultiTaskData(keras.utils.PyDataset):
    def __init__(self, images, meta, labels, boxes, class_weight, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.images, self.meta = images, meta
        self.labels, self.boxes = labels, boxes
        self.class_weight = class_weight
        self.batch_size = batch_size

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, idx):
        sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        labels = self.labels[sl]
        w_label = np.array([self.class_weight[int(c)] for c in labels], dtype=np.float32)
        w_box = (labels > 0).astype(np.float32)  # no box loss for background images
        inputs = {"image": self.images[sl], "meta": self.meta[sl]}
        targets = {"label": labels, "box": self.boxes[sl]}
        return inputs, targets, {"label": w_label, "box": w_box}


def train(model, images, meta, labels, boxes):
    data = MultiTaskData(images, meta, labels, boxes, {0: 0.5, 1: 2.0, 2: 1.0}, 32, workers=4)
    model.fit(data, epochs=25)


def make(ws):
    n = 22
    images = rows(n, 12).reshape(n, 2, 6)
    return MultiTaskData(
        images, rows(n, 2), np.arange(n) % 3, rows(n, 4), {0: 0.5, 1: 2.0, 2: 1.0}, 6, workers=4
    )


EXPECT = Expect(
    source="fdarmon/VQA:dataset.py",
    loader=make,
    check_kwargs={},
    lint_must_not={"TSG651", "TSG353", "TSG352"},
    check_must_not={"TSG301", "TSG401", "TSG601", "TSG621", "TSG624"},
    why="Clean: dict inputs, outputs and sample weights with equal first dimensions.",
)
