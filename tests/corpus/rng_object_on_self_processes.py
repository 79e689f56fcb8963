"""A Sequence that stores `np.random.default_rng(42)` on self and draws its noise from it in
`__getitem__`, with 4 worker processes: each forked worker starts from the same RNG state and
adds the same "random" noise."""

# Modelled on: the DataGenerator pattern with `random_seed=42` and an RNG object kept on the
# instance (`from numpy.random import RandomState`), e.g. AbdElrahmanMSalim/
# Deep-Arabic-Poems-Generator:datagenerator.py for the template.

from __future__ import annotations

import numpy as np

from . import Expect
from ._data import rows


class NoisyRows:
    def __init__(self, x, y, batch_size, random_seed=42):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.rng = np.random.default_rng(random_seed)

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, index):
        sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
        noise = self.rng.normal(0.0, 0.1, size=self.x[sl].shape)
        return self.x[sl] + noise.astype(np.float32), self.y[sl]


def train(model, x, y):
    model.fit_generator(NoisyRows(x, y, 32), epochs=20, workers=4, use_multiprocessing=True)


def make(ws):
    x = rows(32, 5)
    return NoisyRows(x, np.arange(32), 8)


EXPECT = Expect(
    source="AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:datagenerator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must={"TSG551"},
    check_must={"TSG501|TSG503"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="The RNG object is copied with its state into every forked worker (TSG551; TSG501 "
    "or TSG503).",
)
