"""A Sequence that caches decoded images in a dict on self (`self.cache[path] = img`) inside
`__getitem__`, trained with `fit(workers=4)` threads. Correct: a cache of pure values filled
by several threads serves the same data whichever thread filled it."""

# Modelled on: the ResizeSequence pattern (images read and resized per batch with a memo of
# already decoded files), e.g. abhidas03/book-classification:classes.py for the Sequence.

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from . import Expect
from ._data import write_images


class CachedImageSequence:
    def __init__(self, image_filenames, labels, batch_size):
        self.image_filenames = image_filenames
        self.labels = labels
        self.batch_size = batch_size
        self.cache = {}

    def __len__(self):
        return math.ceil(len(self.image_filenames) / self.batch_size)

    def _load(self, path):
        img = self.cache.get(path)
        if img is None:
            with Image.open(path) as f:
                img = np.asarray(f.convert("L"), dtype=np.float32) / 255.0
            self.cache[path] = img
        return img

    def __getitem__(self, idx):
        names = self.image_filenames[idx * self.batch_size : (idx + 1) * self.batch_size]
        y = self.labels[idx * self.batch_size : (idx + 1) * self.batch_size]
        return np.stack([self._load(n) for n in names]), np.asarray(y)


def train(model, files, labels):
    model.fit(CachedImageSequence(files, labels, 32), epochs=40, workers=4)


def make(ws):
    files = write_images(ws.path / "img", 18)
    return CachedImageSequence(files, list(range(18)), 4)


EXPECT = Expect(
    source="abhidas03/book-classification:classes.py",
    loader=make,
    needs=("PIL",),
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG353"},
    check_must_not={"TSG301", "TSG302", "TSG401", "TSG601"},
    why="A memo of pure values: racing threads may decode a file twice, never serve wrong "
    "data. TSG352/TSG303 may mention the cache (unjudged); TSG301 would be wrong.",
)
