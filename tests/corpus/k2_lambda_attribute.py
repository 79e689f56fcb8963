"""A Keras 2 audio `Sequence` whose preprocessing function defaults to a lambda stored on self,
trained with worker processes started with spawn (macOS): the loader cannot be pickled. Lint
and check must name the problem consistently (issue 10 item 10)."""

# Modelled on: ducksfrogs/ma_kaggle:sound/code/models.py (DataGenerator(Sequence) with
# `preprocessing_fn=lambda x: x` stored as self.preprocessing_fn).

from __future__ import annotations

import wave

import numpy as np
from keras.utils import Sequence

from . import Expect
from ._data import write_wavs


class DataGenerator(Sequence):
    def __init__(self, data_dir, list_ids, labels, batch_size=64, preprocessing_fn=lambda x: x):
        self.data_dir = data_dir
        self.list_ids = list_ids
        self.labels = labels
        self.batch_size = batch_size
        self.preprocessing_fn = preprocessing_fn

    def __len__(self):
        return int(np.ceil(len(self.list_ids) / self.batch_size))

    def __getitem__(self, index):
        ids = self.list_ids[index * self.batch_size : (index + 1) * self.batch_size]
        x = []
        for name in ids:
            with wave.open(f"{self.data_dir}/{name}", "rb") as f:
                audio = np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32)
            x.append(self.preprocessing_fn(audio / 32768.0))
        return np.stack(x)[..., None], np.asarray([self.labels[i] for i in ids])


def train(model, data_dir, ids, labels):
    gen = DataGenerator(
        data_dir, ids, labels, preprocessing_fn=lambda x: x / (np.abs(x).max() + 1e-9)
    )
    model.fit_generator(gen, epochs=50, workers=4, use_multiprocessing=True)


def make(ws):
    paths = write_wavs(ws.path / "audio", 12)
    ids = [p.rsplit("/", 1)[-1] for p in paths]
    return DataGenerator(str(ws.path / "audio"), ids, dict.fromkeys(ids, 1), batch_size=4)


EXPECT = Expect(
    source="ducksfrogs/ma_kaggle:sound/code/models.py",
    loader=make,
    needs=("keras",),
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "spawn"},
    lint_must={"TSG151"},
    check_must={"TSG101|TSG102"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="Spawned workers cannot pickle the lambda on self (TSG151 / TSG101 or TSG102; item 10 "
    "asks for one code, or each finding naming the other).",
)
