"""A `threadsafe_iter` copy that creates its lock but forgets to hold it in `__next__`, used
with `fit_generator(workers=4)` threads: two threads then call next() on one generator at
once ("generator already executing")."""

# Modelled on: bbz6810/raspberyPI:asrt/utils/thread.py (the threadsafe_iter recipe; this copy
# drops the `with self.lock:` line, the mistake issue 10 saw in the wild).

from __future__ import annotations

import threading
import time

import numpy as np

from . import Expect
from ._data import rows


class threadsafe_iter:
    def __init__(self, it):
        self.it = it
        self.lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        return self.it.__next__()


def threadsafe_generator(f):
    def g(*a, **kw):
        return threadsafe_iter(f(*a, **kw))

    return g


@threadsafe_generator
def speech_batches(features, batch_size):
    while True:
        for start in range(0, len(features) - batch_size + 1, batch_size):
            time.sleep(0.002)  # feature extraction releases the GIL
            x = features[start : start + batch_size]
            yield x, np.zeros(len(x), dtype=np.int64)


def train(model, features):
    model.fit_generator(speech_batches(features, 8), steps_per_epoch=10, epochs=3, workers=4)


def make(ws):
    return speech_batches(rows(160, 8), 8)


EXPECT = Expect(
    source="bbz6810/raspberyPI:asrt/utils/thread.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must={"TSG351"},
    check_must={"TSG302|TSG306"},
    check_must_not={"TSG304", "TSG501", "TSG502"},
    why="The lock is never taken: 4 threads call next() on the same generator (TSG351 in "
    "lint; 'generator already executing' in the check, TSG302 or TSG306).",
)
