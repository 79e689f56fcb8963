"""A Keras 3 `PyDataset` for detection that pads each batch's boxes to the largest box count
*in that batch*: the boxes array changes shape between batches, and Keras 3 fixes its input
signature from the first batches, so a later batch with more boxes fails mid-epoch."""

# Modelled on: fizyr/keras-retinanet:keras_retinanet/preprocessing/generator.py (boxes of a
# group padded to the group's maximum) ported to a Keras 3 PyDataset.

from __future__ import annotations

import math

import keras
import numpy as np

from . import Expect


class DetectionBatches(keras.utils.PyDataset):
    def __init__(self, images, annotations, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.images = images
        self.annotations = annotations
        self.batch_size = batch_size

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, idx):
        group = range(idx * self.batch_size, min((idx + 1) * self.batch_size, len(self.images)))
        max_boxes = max(len(self.annotations[i]) for i in group)
        boxes = np.full((len(group), max_boxes, 5), -1.0, dtype=np.float32)
        for k, i in enumerate(group):
            boxes[k, : len(self.annotations[i])] = self.annotations[i]
        return self.images[list(group)], boxes


def train(model, images, annotations):
    model.fit(DetectionBatches(images, annotations, 8, workers=4), epochs=50)


def make(ws):
    n = 24
    images = np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)
    annotations = [np.full((1 + (i * 5) % 4, 5), i, dtype=np.float32) for i in range(n)]
    annotations[-1] = np.full((9, 5), n - 1, dtype=np.float32)  # a crowded image at the end
    return DetectionBatches(images, annotations, 4, workers=4)


EXPECT = Expect(
    source="fizyr/keras-retinanet:keras_retinanet/preprocessing/generator.py",
    loader=make,
    check_kwargs={},
    check_must={"TSG623"},
    check_must_not={"TSG401", "TSG301", "TSG601"},
    lint_must_not={"TSG651", "TSG353"},
    why="In Keras 3 the boxes' second dimension is fixed from the first batches; the "
    "crowded last batch does not fit it (TSG623).",
)
