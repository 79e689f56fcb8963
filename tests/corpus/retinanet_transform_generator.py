"""A detection `Sequence` that receives a generator of random transforms in `__init__` and
consumes it with `next(self.transform_generator)` in `__getitem__`: with workers=4 threads,
two threads run the generator at once ("generator already executing"; issue 10 item 15)."""

# Modelled on: fizyr/keras-retinanet:keras_retinanet/preprocessing/generator.py (Generator:
# `transform_generator` argument, `next(self.transform_generator)` in
# random_transform_group_entry) and keras_retinanet/utils/transform.py's
# random_transform_generator (an endless generator of affine matrices).

from __future__ import annotations

import numpy as np
from tensorflow import keras

from . import Expect


def random_transform(prng, min_scale=0.9, max_scale=1.1, flip_x_chance=0.5):
    scale = prng.uniform(min_scale, max_scale)
    flip = -1.0 if prng.uniform(0, 1) < flip_x_chance else 1.0
    return np.array([[scale * flip, 0, 0], [0, scale, 0], [0, 0, 1]], dtype=np.float32)


def random_transform_generator(prng=None, **kwargs):
    if prng is None:
        prng = np.random.RandomState()
    while True:
        yield random_transform(prng=prng, **kwargs)


class Generator(keras.utils.Sequence):
    def __init__(self, images, boxes, transform_generator=None, batch_size=1, **kwargs):
        super().__init__(**kwargs)
        self.images = images
        self.boxes = boxes
        self.transform_generator = transform_generator
        self.batch_size = batch_size
        self.groups = [
            list(range(i, min(i + batch_size, len(images))))
            for i in range(0, len(images), batch_size)
        ]

    def __len__(self):
        return len(self.groups)

    def random_transform_group_entry(self, image, boxes):
        if self.transform_generator:
            transform = next(self.transform_generator)
            image = image * transform[0, 0]
            boxes = boxes * transform[1, 1]
        return image, boxes

    def compute_input_output(self, group):
        pairs = [self.random_transform_group_entry(self.images[i], self.boxes[i]) for i in group]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def __getitem__(self, index):
        return self.compute_input_output(self.groups[index])


def create_generators(images, boxes):
    transform_generator = random_transform_generator(min_scale=0.9, max_scale=1.1)
    return Generator(images, boxes, transform_generator=transform_generator, batch_size=2)


def main(training_model, images, boxes, epochs, workers=4):
    train_generator = create_generators(images, boxes)
    return training_model.fit_generator(
        generator=train_generator,
        steps_per_epoch=len(train_generator),
        epochs=epochs,
        workers=workers,
        use_multiprocessing=False,
        max_queue_size=10,
    )


def make(ws):
    images = np.arange(32 * 6, dtype=np.float32).reshape(32, 2, 3)
    boxes = np.arange(32 * 4, dtype=np.float32).reshape(32, 4)
    return create_generators(images, boxes)


EXPECT = Expect(
    source="fizyr/keras-retinanet:keras_retinanet/preprocessing/generator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must={"TSG35?|TSG151"},
    check_must={"TSG302|TSG306|TSG301"},
    check_must_not={"TSG401", "TSG601"},
    why="Worker threads share one generator through self (item 15): 'generator already "
    "executing' at workers=4.",
)
