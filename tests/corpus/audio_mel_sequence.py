"""A Keras 2 audio `Sequence` that reads WAV clips and computes log-power spectrograms per
batch, trained with `fit_generator(workers=4, use_multiprocessing=True)`. Correct: every
batch is a pure function of its index."""

# Modelled on: the MelDataGenerator(keras.utils.Sequence) pattern from the DCASE2018 task 2
# solutions (file paths and labels sliced per batch, a spectrogram per file), e.g.
# ducksfrogs/ma_kaggle:sound/code/models.py for the Keras 2 audio DataGenerator.

from __future__ import annotations

import wave

import keras
import numpy as np

from . import Expect
from ._data import write_wavs


def log_spectrogram(path, n_fft=64, hop=32):
    with wave.open(path, "rb") as f:
        audio = np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32) / 32768.0
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2
    return np.log(power + 1e-10).astype(np.float32)


class MelDataGenerator(keras.utils.Sequence):
    def __init__(self, file_paths, labels, batch_size=32):
        self.file_paths = file_paths
        self.labels = labels
        self.batch_size = batch_size

    def __len__(self):
        return int(np.ceil(len(self.file_paths) / float(self.batch_size)))

    def __getitem__(self, idx):
        batch_x = self.file_paths[idx * self.batch_size : (idx + 1) * self.batch_size]
        batch_y = self.labels[idx * self.batch_size : (idx + 1) * self.batch_size]
        return np.array([log_spectrogram(p) for p in batch_x])[..., None], np.array(batch_y)


def train(model, paths, labels):
    model.fit_generator(
        MelDataGenerator(paths, labels), epochs=30, workers=4, use_multiprocessing=True
    )


def make(ws):
    paths = write_wavs(ws.path / "clips", 14)
    return MelDataGenerator(paths, [i % 4 for i in range(14)], batch_size=4)


EXPECT = Expect(
    source="ducksfrogs/ma_kaggle:sound/code/models.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must_not={"TSG651", "TSG353", "TSG352", "TSG551", "TSG251"},
    check_must_not={"TSG201", "TSG301", "TSG401", "TSG501", "TSG502", "TSG601"},
    why="Clean: files opened and closed per call, no randomness, Keras 2 fit_generator "
    "honours the workers (item 1).",
)
