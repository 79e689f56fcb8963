"""The keras-yolo3 training generator: an endless loop that reshuffles annotation lines with
`np.random.shuffle` and applies random jitter per image, fed to `fit_generator` with the
default single worker. Correct: one consumer, fresh arrays per batch."""

# Modelled on: qqwweee/keras-yolo3:train.py (data_generator / data_generator_wrapper and
# model.fit_generator(..., steps_per_epoch=..., epochs=...) without workers).

from __future__ import annotations

import numpy as np

from . import Expect


def get_random_data(line, input_shape, jitter=0.3):
    value = float(line.split()[0])
    scale = np.random.rand() * jitter + 1.0
    image = np.full((*input_shape, 3), value * scale, dtype=np.float32)
    box = np.array([value, value + 1, value + 2, value + 3], dtype=np.float32)
    return image, box


def data_generator(annotation_lines, batch_size, input_shape):
    n = len(annotation_lines)
    i = 0
    while True:
        image_data = []
        box_data = []
        for _ in range(batch_size):
            if i == 0:
                np.random.shuffle(annotation_lines)
            image, box = get_random_data(annotation_lines[i], input_shape)
            image_data.append(image)
            box_data.append(box)
            i = (i + 1) % n
        yield np.array(image_data), np.array(box_data)


def data_generator_wrapper(annotation_lines, batch_size, input_shape):
    n = len(annotation_lines)
    if n == 0 or batch_size <= 0:
        return None
    return data_generator(annotation_lines, batch_size, input_shape)


def train(model, lines_train, batch_size=32):
    model.fit_generator(
        data_generator_wrapper(lines_train, batch_size, (416, 416)),
        steps_per_epoch=max(1, len(lines_train) // batch_size),
        epochs=50,
        initial_epoch=0,
    )


def make(ws):
    lines = [f"{i} 1,1,5,5,0" for i in range(80)]
    return data_generator_wrapper(lines, 4, (4, 4))


EXPECT = Expect(
    source="qqwweee/keras-yolo3:train.py",
    loader=make,
    check_kwargs={"workers": 1, "use_multiprocessing": False},
    lint_must_not={"TSG451"},
    check_must_not={
        "TSG302",
        "TSG304",
        "TSG306",
        "TSG401",
        "TSG501:error",
        "TSG502:error",
        "TSG603",
    },
    why="Clean at its settings: one worker consumes the generator; random jitter from one "
    "process's RNG is what is wanted.",
)
