"""A Sequence whose `__len__` rounds up but whose `__getitem__` reshapes every batch to the full
batch size: the short last batch raises ValueError, at index len-1 only (issue 10 item 5)."""

# Modelled on: symphony-of-nirfolio/Signal-anomaly-detection:Backend/CustomGenerator.py
# (ceil in __len__, `answer.reshape(self.batch_size, 28, 1)` in __getitem__).

from __future__ import annotations

import numpy as np

from . import Expect


class SequenceGenerator:
    def __init__(self, labels, batch_size, data):
        self.batch_size = batch_size
        self.labels = labels
        self.data = data

    def __len__(self):
        return int(np.ceil(len(self.labels) / float(self.batch_size)))

    def __getitem__(self, item):
        batch = self.labels[item * self.batch_size : (item + 1) * self.batch_size]
        answer = np.empty(0, np.float32)
        for ind in batch:
            answer = np.append(answer, self.data[ind * 8 : ind * 8 + 28])
        oof = answer.reshape(self.batch_size, 28, 1)
        return oof, oof.copy()


def train(model, labels, data):
    model.fit(SequenceGenerator(labels, 16, data), epochs=10, workers=4)


def make(ws):
    # 30 windows in batches of 8: indices 0-2 are full, index 3 holds 6 windows and raises.
    signal = np.arange(30 * 8 + 28, dtype=np.float32)
    return SequenceGenerator(np.arange(30), 8, signal)


EXPECT = Expect(
    source="symphony-of-nirfolio/Signal-anomaly-detection:Backend/CustomGenerator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    check_must={"TSG822|TSG601"},
    check_must_not={"TSG104", "TSG203", "TSG301", "TSG302", "TSG305", "TSG401"},
    at_most={"TSG822": 1, "TSG601": 1},
    why="One root cause: the last batch (index 3) raises. One finding at that index; no "
    "pickling, fork or concurrency findings (item 5).",
)
