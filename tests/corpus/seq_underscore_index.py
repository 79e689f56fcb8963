"""A Sequence whose `__getitem__(self, _)` names its unused index `_` and returns
`next(self.it)` (issue 10 item 11's minimal shape), trained with 8 worker threads."""

# Modelled on: jian626/deepseq:framework/tools/sequence_sampling.py (a Sequence serving the next
# chunk whatever the index), written with the `_` parameter seen in issue 10 item 11.

from __future__ import annotations

import numpy as np

from . import Expect
from ._data import rows


def frames(data, size):
    while True:
        for start in range(0, len(data) - size + 1, size):
            yield data[start : start + size], np.ones(size, dtype=np.float32)


class FrameSequence:
    def __init__(self, data, size):
        self.steps = len(data) // size
        self.it = frames(data, size)

    def __len__(self):
        return self.steps

    def __getitem__(self, _):
        return next(self.it)


def train(model, data):
    model.fit(FrameSequence(data, 16), epochs=2, workers=8)


def make(ws):
    return FrameSequence(rows(64, 3), 8)


EXPECT = Expect(
    source="jian626/deepseq:framework/tools/sequence_sampling.py",
    loader=make,
    check_kwargs={"workers": 8, "use_multiprocessing": False},
    lint_must={"TSG353"},
    check_must={"TSG301|TSG302|TSG306"},
    check_must_not={"TSG501", "TSG502"},
    why="The index is ignored; 8 threads share one generator (TSG353, and TSG302/TSG306 or "
    "TSG301 in the check).",
)
