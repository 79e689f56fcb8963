"""An infinite detection generator (shuffle each pass, random flips) passed to
`fit_generator(workers=cpu_count(), use_multiprocessing=True)`: Keras 2 runs one copy of the
generator in every worker process, so each batch is trained on up to `workers` times."""

# Modelled on: matterport/Mask_RCNN:mrcnn/model.py (data_generator: a `while True` loop over
# shuffled image ids that yields batches, trained with fit_generator(workers=cpu_count(),
# use_multiprocessing=True)).

from __future__ import annotations

import multiprocessing

import numpy as np

from . import Expect
from ._data import rows


class ToyDataset:
    """Stands in for the project's Dataset class: images and their boxes by id."""

    def __init__(self, n):
        self.image_ids = np.arange(n)
        self._images = rows(n, 6).reshape(n, 2, 3)

    def load_image(self, image_id):
        return self._images[image_id]

    def load_boxes(self, image_id):
        return np.array([[image_id, image_id + 1.0, image_id + 2.0, image_id + 3.0]], "float32")


def data_generator(dataset, shuffle=True, augment=False, batch_size=1):
    b = 0  # batch item index
    image_index = -1
    image_ids = np.copy(dataset.image_ids)
    while True:
        image_index = (image_index + 1) % len(image_ids)
        if shuffle and image_index == 0:
            np.random.shuffle(image_ids)
        image_id = image_ids[image_index]
        image = dataset.load_image(image_id)
        boxes = dataset.load_boxes(image_id)
        if augment and np.random.randint(0, 2):
            image = np.fliplr(image)
        if b == 0:
            batch_images = np.zeros((batch_size, *image.shape), dtype=np.float32)
            batch_boxes = np.zeros((batch_size, *boxes.shape), dtype=np.float32)
        batch_images[b] = image
        batch_boxes[b] = boxes
        b += 1
        if b >= batch_size:
            yield batch_images, batch_boxes
            b = 0


def train(keras_model, train_dataset, epochs):
    train_generator = data_generator(train_dataset, shuffle=True, augment=True, batch_size=2)
    workers = multiprocessing.cpu_count()
    keras_model.fit_generator(
        train_generator,
        epochs=epochs,
        steps_per_epoch=100,
        max_queue_size=100,
        workers=workers,
        use_multiprocessing=True,
    )


def make(ws):
    return data_generator(ToyDataset(48), shuffle=True, augment=True, batch_size=2)


EXPECT = Expect(
    source="matterport/Mask_RCNN:mrcnn/model.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must={"TSG451"},
    check_must={"TSG402"},
    check_must_not={"TSG304", "TSG401"},
    why="A generator with use_multiprocessing=True is copied into every worker process "
    "(duplicated batches). Each batch gets fresh arrays, so no shared buffer.",
)
