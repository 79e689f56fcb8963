"""A Sequence that ignores its index and serves `next(self.it)` from an iterator made in
`__init__`: with 4 worker threads the batches come in scheduling order, some twice. No
randomness at all (issue 10 item 4: no TSG501/502 for it)."""

# Modelled on: jian626/deepseq:framework/tools/sequence_sampling.py (a Sequence advancing
# self.pos per call, whatever the index) and cudajay/Galactic-Federation:kubePilot/shared/utils.py
# (a chunk iterator with a position cursor).

from __future__ import annotations

import itertools
import time

from . import Expect
from ._data import rows


class ChunkIterator:
    def __init__(self, x, y, chunk_size):
        self.x, self.y, self.cs = x, y, chunk_size

    def __iter__(self):
        for pos in itertools.cycle(range(0, len(self.x) - self.cs + 1, self.cs)):
            yield self.x[pos : pos + self.cs], self.y[pos : pos + self.cs]


class ChunkSequence:
    def __init__(self, x, y, chunk_size):
        self.n = len(x) // chunk_size
        self.it = iter(ChunkIterator(x, y, chunk_size))

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        time.sleep(0.002)  # reading the next chunk from disk
        return next(self.it)


def train(model, x, y):
    model.fit(ChunkSequence(x, y, 8), epochs=3, workers=4)


def make(ws):
    data = rows(64, 4)
    return ChunkSequence(data, data[:, 0].copy(), 8)


EXPECT = Expect(
    source="jian626/deepseq:framework/tools/sequence_sampling.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must={"TSG353"},
    check_must={"TSG301|TSG302|TSG306"},
    check_must_not={"TSG501", "TSG502", "TSG503"},
    why="The batch depends on a shared cursor, not on the index (TSG353 / TSG301). Nothing "
    "is random, so any randomness finding is a false alarm (item 4).",
)
