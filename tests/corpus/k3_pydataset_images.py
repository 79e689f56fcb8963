"""The Keras 3 `PyDataset` from the Keras documentation, reading image files with Pillow, with
`workers=4` threads passed through `super().__init__(**kwargs)`. Correct. Also the loader
benchmarks/accuracy.py times (issue 10: check_loader on a PyDataset under 5 s)."""

# Modelled on: JesusDMM/Modelos_IA:generator_images.py (CIFAR10PyDataset(tf.keras.utils.PyDataset)
# with super().__init__(**kwargs), images read and resized per batch).

from __future__ import annotations

import math

import keras
import numpy as np
from PIL import Image

from . import Expect
from ._data import write_images


def imread(path, size):
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB").resize(size), dtype=np.float32) / 255.0


class ImagePyDataset(keras.utils.PyDataset):
    def __init__(self, x_set, y_set, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x_set, y_set
        self.batch_size = batch_size

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        low = idx * self.batch_size
        high = min(low + self.batch_size, len(self.x))
        batch_x = self.x[low:high]
        batch_y = self.y[low:high]
        return np.array([imread(name, (16, 16)) for name in batch_x]), np.array(batch_y)


def train(model, files, labels):
    model.fit(ImagePyDataset(files, labels, 64, workers=4), epochs=10)


def make(ws):
    files = write_images(ws.path / "images", 30)
    return ImagePyDataset(files, [i % 2 for i in range(30)], 8, workers=4)


EXPECT = Expect(
    source="JesusDMM/Modelos_IA:generator_images.py",
    loader=make,
    needs=("PIL",),
    check_kwargs={},
    lint_must_not={"TSG651", "TSG353", "TSG352", "TSG251"},
    check_must_not={"TSG301", "TSG401", "TSG501", "TSG502", "TSG601", "TSG721"},
    why="Clean: the files are opened and closed per call; the settings reach Keras.",
)
