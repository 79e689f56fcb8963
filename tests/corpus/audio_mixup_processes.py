"""The audio `Sequence` with mixup: each clip is blended with a random partner using
`np.random.beta` and `np.random.randint` in `__getitem__`, with 4 forked worker processes,
which all inherit one global RNG state and mix the same way."""

# Modelled on: the MelDataGenerator(keras.utils.Sequence) with `mixup=True` from the DCASE2018
# task 2 solutions, e.g. ducksfrogs/ma_kaggle:sound/code/models.py for the audio Sequence.

from __future__ import annotations

import wave

import numpy as np

from . import Expect
from ._data import write_wavs


def load(path):
    with wave.open(path, "rb") as f:
        return np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32) / 32768.0


class MixupAudio:
    def __init__(self, paths, labels, batch_size=16, alpha=0.4):
        self.clips = np.stack([load(p) for p in paths])
        self.labels = np.eye(4, dtype=np.float32)[labels]
        self.batch_size = batch_size
        self.alpha = alpha

    def __len__(self):
        return len(self.clips) // self.batch_size

    def __getitem__(self, idx):
        sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        x, y = self.clips[sl], self.labels[sl]
        lam = np.random.beta(self.alpha, self.alpha, size=(len(x), 1)).astype(np.float32)
        partner = np.random.randint(0, len(self.clips), size=len(x))
        return lam * x + (1 - lam) * self.clips[partner], lam * y + (1 - lam) * self.labels[partner]


def train(model, paths, labels):
    model.fit_generator(MixupAudio(paths, labels), epochs=60, workers=4, use_multiprocessing=True)


def make(ws):
    paths = write_wavs(ws.path / "clips", 16)
    return MixupAudio(paths, [i % 4 for i in range(16)], batch_size=4)


EXPECT = Expect(
    source="ducksfrogs/ma_kaggle:sound/code/models.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must={"TSG551"},
    check_must={"TSG501"},
    check_must_not={"TSG301", "TSG601"},
    why="Forked workers draw the same mixup weights and partners (TSG551 / TSG501).",
)
