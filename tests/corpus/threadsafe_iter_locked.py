"""The classic `threadsafe_iter` recipe, done right: `__next__` holds the lock, and the
decorated generator goes to `fit_generator(workers=4)` with threads. Correct."""

# Modelled on: tom812191/chess-deep-learning:util/threading_util.py (ThreadSafeIter and the
# thread_safe_generator decorator, the recipe from keras-team/keras issue 1638).

from __future__ import annotations

import threading

import numpy as np

from . import Expect
from ._data import rows


class ThreadSafeIter:
    """Takes an iterator/generator and makes it thread-safe by
    serializing call to the `next` method of given iterator/generator.
    """

    def __init__(self, it):
        self.it = it
        self.lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            return self.it.__next__()


def thread_safe_generator(f):
    """A decorator that takes a generator function and makes it thread-safe."""

    def g(*a, **kw):
        return ThreadSafeIter(f(*a, **kw))

    return g


@thread_safe_generator
def position_batches(positions, results, batch_size):
    while True:
        for start in range(0, len(positions) - batch_size + 1, batch_size):
            yield positions[start : start + batch_size], results[start : start + batch_size]


def train(model, positions, results):
    model.fit_generator(
        position_batches(positions, results, 8),
        steps_per_epoch=len(positions) // 8,
        epochs=5,
        workers=4,
        use_multiprocessing=False,
    )


def make(ws):
    return position_batches(rows(160, 8), np.arange(160) % 3, 8)


EXPECT = Expect(
    source="tom812191/chess-deep-learning:util/threading_util.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG351", "TSG451", "TSG151"},
    check_must_not={"TSG301", "TSG302", "TSG306", "TSG304", "TSG401"},
    why="Clean: the lock serialises next() across the 4 worker threads, and each batch is a "
    "fresh slice.",
)
