"""tf_keras `ImageDataGenerator().flow(x, y)` with flips and shifts, trained with
`fit(workers=4)` threads. The library's iterator draws its augmentation from the global numpy
RNG and locks its index generator: correct with threads."""

# Modelled on: keras-team/keras-preprocessing:keras_preprocessing/image/image_data_generator.py
# (ImageDataGenerator(...).flow(x, y) passed to fit with worker threads, as keras.io shows).

from __future__ import annotations

import numpy as np
from tf_keras.preprocessing.image import ImageDataGenerator

from . import Expect


def train(model, x, y):
    datagen = ImageDataGenerator(horizontal_flip=True, width_shift_range=0.1)
    model.fit(datagen.flow(x, y, batch_size=32), epochs=20, workers=4)


def make(ws):
    x = np.arange(24 * 8 * 8 * 3, dtype=np.float32).reshape(24, 8, 8, 3)
    datagen = ImageDataGenerator(horizontal_flip=True, width_shift_range=0.1)
    return datagen.flow(x, np.arange(24), batch_size=6, seed=1)


EXPECT = Expect(
    source="keras-team/keras-preprocessing:keras_preprocessing/image/image_data_generator.py",
    loader=make,
    needs=("tf_keras", "scipy"),
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG451", "TSG551"},
    check_must_not={
        "TSG301",
        "TSG302",
        "TSG306",
        "TSG401",
        "TSG501:error",
        "TSG502:error",
        "TSG703:warning",
    },
    why="Clean with threads: the iterator is a Sequence with a locked index generator, and "
    "the shared global RNG is fine across threads.",
)
