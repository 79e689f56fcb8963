"""The albumentations `Sequence` with worker threads (`fit(workers=8)`): one process, one
global RNG stream shared by the threads, so every image gets its own augmentation. Correct."""

# Modelled on: samir-dadah/Lane-detection-in-self-driving-cars-using-MobileNetV3:Segmentation.py
# (an albumentations Compose applied per image) inside the AugmentationSequence pattern.

from __future__ import annotations

import math

import albumentations as A
import numpy as np

from . import Expect


class AugmentedImages:
    def __init__(self, images, masks, batch_size, transform):
        self.images, self.masks = images, masks
        self.batch_size = batch_size
        self.transform = transform

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, idx):
        sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        pairs = [
            self.transform(image=i, mask=m)
            for i, m in zip(self.images[sl], self.masks[sl], strict=False)
        ]
        return np.stack([p["image"] for p in pairs]), np.stack([p["mask"] for p in pairs])


def train(model, images, masks):
    transform = A.Compose([A.HorizontalFlip(p=0.5), A.RandomBrightnessContrast(p=0.5)])
    model.fit(AugmentedImages(images, masks, 16, transform), epochs=40, workers=8)


def make(ws):
    images = (np.arange(16 * 8 * 8 * 3) % 251).astype(np.uint8).reshape(16, 8, 8, 3)
    masks = (images[..., 0] > 100).astype(np.uint8)
    transform = A.Compose([A.HorizontalFlip(p=0.5), A.RandomBrightnessContrast(p=0.5)])
    return AugmentedImages(images, masks, 4, transform)


EXPECT = Expect(
    source="samir-dadah/Lane-detection-in-self-driving-cars-using-MobileNetV3:Segmentation.py",
    loader=make,
    needs=("albumentations",),
    check_kwargs={"workers": 8, "use_multiprocessing": False},
    check_must_not={"TSG301", "TSG302", "TSG401", "TSG501:error", "TSG502:error", "TSG601"},
    why="Clean with threads: random augmentation from a shared RNG is what is wanted; fork "
    "problems can only be warnings about switching to processes.",
)
