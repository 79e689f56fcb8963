"""A tf.keras `Sequence` applying an albumentations pipeline per image, trained with
`fit(workers=4, use_multiprocessing=True)`: albumentations draws from the global `random` and
numpy RNGs, which every forked worker inherits in the same state, so the workers apply the
same "random" augmentations (issue 10 item 16)."""

# Modelled on: the AugmentationSequence pattern (tensorflow.keras Sequence taking an
# albumentations Compose as `augmentations` and calling `self.augment(image=x)["image"]` per
# image), e.g. samir-dadah/Lane-detection-in-self-driving-cars-using-MobileNetV3:Segmentation.py
# for the pipeline.

from __future__ import annotations

import math

import albumentations as A
import numpy as np
from tensorflow.keras.utils import Sequence

from . import Expect


class AugmentationSequence(Sequence):
    def __init__(self, x_set, y_set, batch_size, augmentations):
        self.x, self.y = x_set, y_set
        self.batch_size = batch_size
        self.augment = augmentations

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        batch_x = self.x[idx * self.batch_size : (idx + 1) * self.batch_size]
        batch_y = self.y[idx * self.batch_size : (idx + 1) * self.batch_size]
        return np.stack([self.augment(image=x)["image"] for x in batch_x]), np.array(batch_y)


AUGMENTATIONS_TRAIN = A.Compose(
    [A.HorizontalFlip(p=0.5), A.RandomBrightnessContrast(p=0.8), A.GaussNoise(p=0.5)]
)


def train(model, x, y):
    seq = AugmentationSequence(x, y, 16, AUGMENTATIONS_TRAIN)
    model.fit(seq, epochs=20, workers=4, use_multiprocessing=True)


def make(ws):
    x = (np.arange(16 * 8 * 8 * 3) % 251).astype(np.uint8).reshape(16, 8, 8, 3)
    return AugmentationSequence(x, np.arange(16), 4, AUGMENTATIONS_TRAIN)


EXPECT = Expect(
    source="samir-dadah/Lane-detection-in-self-driving-cars-using-MobileNetV3:Segmentation.py",
    loader=make,
    needs=("albumentations",),
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must={"TSG551"},
    lint_must_not={"TSG651:warning", "TSG651:error"},
    check_must={"TSG501"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="Forked workers inherit the global RNG state that albumentations draws from: the "
    "same augmentations in every worker (TSG551 / TSG501).",
)
