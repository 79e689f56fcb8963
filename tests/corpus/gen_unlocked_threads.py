"""A plain generator function, no lock, passed to `fit_generator(workers=2)` with threads: the
two worker threads call next() on one generator ("generator already executing")."""

# Modelled on: babraham123/deepdriving:convnets-keras-master/gen.py (an endless generator of
# feature batches handed straight to fit_generator); workers=2 is issue 10 item 19's setting.

from __future__ import annotations

import numpy as np

from . import Expect
from ._data import rows


def generator(features, targets, batch_size):
    while True:
        for start in range(0, len(features) - batch_size + 1, batch_size):
            batch_features = features[start : start + batch_size] * 2.0
            batch_labels = targets[start : start + batch_size]
            yield batch_features, batch_labels


def train(model, features, targets):
    model.fit_generator(generator(features, targets, 16), steps_per_epoch=50, epochs=10, workers=2)


def make(ws):
    return generator(rows(160, 6), np.arange(160) % 2, 8)


EXPECT = Expect(
    source="babraham123/deepdriving:convnets-keras-master/gen.py",
    loader=make,
    check_kwargs={"workers": 2, "use_multiprocessing": False},
    lint_must={"TSG451"},
    check_must={"TSG302|TSG306"},
    check_must_not={"TSG304", "TSG401"},
    why="One unlocked generator shared by 2 worker threads (issue 10 item 19).",
)
