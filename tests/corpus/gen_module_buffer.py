"""A generator that fills one module-level batch buffer in place and yields it every time:
Keras queues several batches, and they are all the same array (issue 10 item 17)."""

# Modelled on: NathanDuran/RNN-Sherlock-Language-Model:keras_batch_generator.py (batch arrays
# allocated once and overwritten in the loop), with the buffer at module level as in item 17.

from __future__ import annotations

import numpy as np

from . import Expect
from ._data import rows

BATCH_SIZE = 8
BUF = np.zeros((BATCH_SIZE, 5), dtype=np.float32)
LABELS = np.zeros(BATCH_SIZE, dtype=np.int64)


def batches(data):
    while True:
        for start in range(0, len(data) - BATCH_SIZE + 1, BATCH_SIZE):
            BUF[:] = data[start : start + BATCH_SIZE]
            LABELS[:] = np.arange(start, start + BATCH_SIZE) % 4
            yield BUF, LABELS


def train(model, data):
    model.fit_generator(batches(data), steps_per_epoch=len(data) // BATCH_SIZE, epochs=4)


def make(ws):
    return batches(rows(160, 5))


EXPECT = Expect(
    source="NathanDuran/RNN-Sherlock-Language-Model:keras_batch_generator.py",
    loader=make,
    check_kwargs={"workers": 1, "use_multiprocessing": False},
    check_must={"TSG304"},
    check_must_not={"TSG401", "TSG501", "TSG502"},
    why="Every yield is the same array: the queue (max_queue_size=10) holds overwritten "
    "batches even with one worker (TSG304).",
)
