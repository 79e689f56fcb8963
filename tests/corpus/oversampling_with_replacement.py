"""A balanced batch generator that oversamples the minority class *with replacement* once per
epoch and slices the resampled index array per batch, trained with 4 worker threads: the same
minority sample appears several times in an epoch by design (issue 10 item 7)."""

# Modelled on: scikit-learn-contrib/imbalanced-learn:imblearn/keras/_generator.py
# (BalancedBatchGenerator(keras.utils.Sequence): indices resampled with a RandomOverSampler,
# sliced by batch index).

from __future__ import annotations

import math

import numpy as np

from . import Expect
from ._data import rows


class BalancedBatchGenerator:
    def __init__(self, x, y, batch_size=32, random_state=0):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.random_state = np.random.RandomState(random_state)
        self.indices_ = self._sample()

    def _sample(self):
        classes, counts = np.unique(self.y, return_counts=True)
        target = counts.max()
        picks = [
            self.random_state.choice(np.flatnonzero(self.y == c), size=target, replace=True)
            for c in classes
        ]
        order = np.concatenate(picks)
        self.random_state.shuffle(order)
        return order

    def __len__(self):
        return math.ceil(len(self.indices_) / self.batch_size)

    def __getitem__(self, index):
        take = self.indices_[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[take], self.y[take]

    def on_epoch_end(self):
        self.indices_ = self._sample()


def train(model, x, y):
    model.fit(BalancedBatchGenerator(x, y, batch_size=64), epochs=10, workers=4)


def make(ws):
    y = (np.arange(30) % 6 == 0).astype(np.int64)  # 5 positives, 25 negatives
    return BalancedBatchGenerator(rows(30, 3), y, batch_size=8)


EXPECT = Expect(
    source="scikit-learn-contrib/imbalanced-learn:imblearn/keras/_generator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG551", "TSG353", "TSG352"},
    check_must_not={"TSG401", "TSG301", "TSG501", "TSG502", "TSG503:error", "TSG601"},
    why="Repeats of minority samples are the point of oversampling (item 7); the RNG runs "
    "only in __init__ and on_epoch_end.",
)
