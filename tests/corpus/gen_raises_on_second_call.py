"""An infinite generator whose second batch raises (a corrupt record), trained with one
worker: one crash, at batch 2 (issue 10 item 5: not also 'stopped after 2 batches')."""

# Modelled on: babraham123/deepdriving:convnets-keras-master/gen.py (an endless generator of
# processed records); the record that fails to parse on the second call is issue 10 item 5's
# minimal shape.

from __future__ import annotations

import json

import numpy as np

from . import Expect


def records():
    yield '{"x": [1, 2, 3], "y": 0}'
    yield '{"x": [4, 5, 6], "y": 1'  # truncated on disk
    while True:
        yield '{"x": [7, 8, 9], "y": 0}'


def record_batches():
    for raw in records():
        rec = json.loads(raw)
        yield np.asarray([rec["x"]], dtype=np.float32), np.asarray([rec["y"]])


def train(model):
    model.fit(record_batches(), steps_per_epoch=100, epochs=3)


def make(ws):
    return record_batches


EXPECT = Expect(
    source="babraham123/deepdriving:convnets-keras-master/gen.py",
    loader=make,
    check_kwargs={"workers": 1, "use_multiprocessing": False},
    check_must={"TSG822"},
    check_must_not={"TSG603", "TSG104", "TSG203", "TSG302"},
    at_most={"TSG822": 1},
    why="The generator raises json.JSONDecodeError on its second batch: one TSG822. It is "
    "infinite, so 'will not restart between epochs' (TSG603) is a false alarm.",
)
