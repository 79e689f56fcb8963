"""A batch-generator class whose `generate()` reuses two arrays allocated before its loop and a
cursor on the instance; trained with one worker. The reused buffer is a real problem even at
workers=1: Keras queues up to 10 batches that are all the same arrays."""

# Modelled on: NathanDuran/RNN-Sherlock-Language-Model:keras_batch_generator.py
# (KerasBatchGenerator: self.index cursor, x and y allocated once, filled and yielded).

from __future__ import annotations

import numpy as np

from . import Expect
from ._data import rows


class KerasBatchGenerator:
    def __init__(self, x_train, y_train, max_input_len, num_sentences, batch_size, vocab):
        self.x_train = x_train
        self.y_train = y_train
        self.max_input_len = max_input_len
        self.num_sentences = num_sentences
        self.batch_size = batch_size
        self.vocab = vocab
        # Once the data reaches the end of the data set it will reset back to zero
        self.index = 0

    def generate(self):
        x = np.zeros((self.batch_size, self.max_input_len))
        y = np.zeros((self.batch_size, self.vocab))
        while True:
            for i in range(self.batch_size):
                if self.index + self.batch_size >= self.num_sentences:
                    self.index = 0
                x[i, :] = self.x_train[self.index]
                y[i, :] = np.eye(self.vocab)[int(self.y_train[self.index]) % self.vocab]
                self.index += 1
            yield x, y


def train(model, gen, epochs):
    model.fit_generator(gen.generate(), gen.num_sentences // gen.batch_size, epochs)


def make(ws):
    gen = KerasBatchGenerator(rows(80, 6), np.arange(80), 6, 80, 4, 5)
    return gen.generate()


EXPECT = Expect(
    source="NathanDuran/RNN-Sherlock-Language-Model:keras_batch_generator.py",
    loader=make,
    check_kwargs={"workers": 1, "use_multiprocessing": False},
    check_must={"TSG304"},
    check_must_not={"TSG401", "TSG501", "TSG502", "TSG603"},
    lint_must_not={"TSG451"},
    why="x and y are yielded again and again while being overwritten (TSG304). One worker, "
    "so the cursor on self is not shared.",
)
