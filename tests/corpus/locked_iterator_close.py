"""A `LockedIterator` that also forwards `close()` under its lock, wrapping a generator of
text-line batches for `fit_generator(workers=4)` threads. Correct."""

# Modelled on: AIFFELTHON/Bung_Eo_Lip_Net:CanRunningLipNet_in_phython3.6.9/lipnet/helpers/
# threadsafe.py (threadsafe_iter with `self._lock` and `next(self._it)`) and the LockedIterator
# variant forwarding close().

from __future__ import annotations

import threading

import numpy as np

from . import Expect
from ._data import write_texts


class LockedIterator:
    def __init__(self, it):
        self._lock = threading.Lock()
        self._it = iter(it)

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            return next(self._it)

    def close(self):
        with self._lock:
            self._it.close()


def threadsafe_generator(f):
    def g(*a, **kw):
        return LockedIterator(f(*a, **kw))

    return g


@threadsafe_generator
def line_batches(lines, batch_size):
    while True:
        for start in range(0, len(lines) - batch_size + 1, batch_size):
            chunk = lines[start : start + batch_size]
            lengths = np.array([len(line.split()) for line in chunk], dtype=np.float32)
            yield lengths[:, None], np.arange(start, start + batch_size)


def train(model, lines):
    model.fit_generator(line_batches(lines, 32), steps_per_epoch=100, epochs=2, workers=4)


def make(ws):
    return line_batches(write_texts(160), 8)


EXPECT = Expect(
    source="AIFFELTHON/Bung_Eo_Lip_Net:CanRunningLipNet_in_phython3.6.9/lipnet/helpers/threadsafe.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG351", "TSG451", "TSG151"},
    check_must_not={"TSG301", "TSG302", "TSG306", "TSG304", "TSG401"},
    why="Clean: next() and close() both hold the lock.",
)
