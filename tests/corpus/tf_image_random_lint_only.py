"""A tf.keras `Sequence` that augments with `tf.image.random_*` ops inside `__getitem__`, for
`fit(workers=4, use_multiprocessing=True)`: TensorFlow's op-level RNG state is copied into
every forked worker (issue 10 item 16). Linted only: running TensorFlow ops in a forked child
of a process that initialised TensorFlow can hang."""

# Modelled on: the tf.keras Sequence + tf.image augmentation pattern, e.g.
# fabianaferreira/final-project-src:Classifier/DataGenerator.py for the Sequence.

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import Expect


class AugmentedSequence(tf.keras.utils.Sequence):
    def __init__(self, images, labels, batch_size):
        self.images = images
        self.labels = labels
        self.batch_size = batch_size

    def __len__(self):
        return int(np.ceil(len(self.images) / self.batch_size))

    def __getitem__(self, idx):
        batch = self.images[idx * self.batch_size : (idx + 1) * self.batch_size]
        batch = tf.image.random_flip_left_right(batch)
        batch = tf.image.random_brightness(batch, max_delta=0.2)
        return batch.numpy(), self.labels[idx * self.batch_size : (idx + 1) * self.batch_size]


def train(model, images, labels):
    model.fit(AugmentedSequence(images, labels, 32), epochs=5, workers=4, use_multiprocessing=True)


EXPECT = Expect(
    source="fabianaferreira/final-project-src:Classifier/DataGenerator.py",
    lint_must={"TSG551"},
    lint_must_not={"TSG353", "TSG651:warning", "TSG651:error"},
    why="TensorFlow's random image ops run from the same RNG state in every forked worker.",
)
