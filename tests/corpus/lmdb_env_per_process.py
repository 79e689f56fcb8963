"""A Sequence that opens its LMDB environment lazily, once per process (keyed by pid), trained
with 4 worker threads. Correct with threads: one read-only environment serves them all.

(With worker processes it would not be: Keras reads the first batches in the parent, and LMDB
refuses to open an environment in a forked child while the inherited one is open. The check
reports that as TSG203; with threads it is at most a warning about switching.)"""

# Modelled on: shawn3298317/Pytorch-UNet:photo_data.py (an LMDB reader class) combined with the
# open-lazily-per-worker fix that the LMDB documentation asks for after fork.

from __future__ import annotations

import os

import lmdb
import numpy as np

from . import Expect
from ._data import write_lmdb


class PhotoData:
    def __init__(self, path, batch_size):
        self.path = path
        self.batch_size = batch_size
        self._env = None
        self._pid = None
        with lmdb.open(path, readonly=True, lock=False) as env:
            self.entries = int(env.begin().get(b"num"))

    def _environment(self):
        if self._pid != os.getpid():
            self._env = lmdb.open(self.path, readonly=True, lock=False, readahead=False)
            self._pid = os.getpid()
        return self._env

    def __getstate__(self):
        return {**self.__dict__, "_env": None, "_pid": None}

    def __len__(self):
        return self.entries // self.batch_size

    def __getitem__(self, index):
        env = self._environment()
        lo = index * self.batch_size
        with env.begin() as t:
            xs = [
                np.frombuffer(t.get(f"x-{i:06d}".encode()), np.float32)
                for i in range(lo, lo + self.batch_size)
            ]
            ys = [int(t.get(f"y-{i:06d}".encode())) for i in range(lo, lo + self.batch_size)]
        return np.stack(xs), np.asarray(ys)


def train(model, path):
    model.fit_generator(PhotoData(path, 16), epochs=8, workers=4, use_multiprocessing=False)


def make(ws):
    return PhotoData(write_lmdb(ws.path / "db", 40), 8)


EXPECT = Expect(
    source="shawn3298317/Pytorch-UNet:photo_data.py",
    loader=make,
    needs=("lmdb",),
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG251"},
    check_must_not={"TSG101:error", "TSG104", "TSG201:error", "TSG203:error", "TSG301", "TSG401"},
    why="Clean with threads: one environment, one read transaction per call. Storing the "
    "lazily opened handle on self is deliberate.",
)
