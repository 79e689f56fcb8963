"""A library module with an infinite generator of WAV batches (read, normalise, yield). On its
own it is fine; gen_train_imported.py passes it to fit_generator with 16 worker processes."""

# Modelled on: davidkarl/My-Functions:Python/fit_generator_lines_from_file.py (the Keras docs'
# generate_arrays_from_file: an endless loop over a file list yielding arrays), kept in its own
# module and imported by the training script, as issue 10 item 12 describes.

from __future__ import annotations

import wave

import numpy as np

from . import Expect
from ._data import write_wavs


def read_wav(path):
    with wave.open(path, "rb") as f:
        frames = f.readframes(f.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def wav_batch_generator(paths, targets, batch_size=4):
    while True:
        for start in range(0, len(paths) - batch_size + 1, batch_size):
            x = np.stack([read_wav(p) for p in paths[start : start + batch_size]])
            x /= np.abs(x).max(axis=1, keepdims=True) + 1e-6
            yield x[..., None], np.asarray(targets[start : start + batch_size])


def make(ws):
    paths = write_wavs(ws.path / "wavs", 80, samples=64)
    return wav_batch_generator(paths, list(range(80)), batch_size=4)


EXPECT = Expect(
    source="davidkarl/My-Functions:Python/fit_generator_lines_from_file.py",
    loader=make,
    check_kwargs={"workers": 16, "use_multiprocessing": True, "start_method": "fork"},
    check_must={"TSG402"},
    check_must_not={"TSG304", "TSG401", "TSG603", "TSG501", "TSG502"},
    why="Used by gen_train_imported.py with 16 processes: each process runs its own copy of "
    "the generator, so every batch is served 16 times (TSG402). No randomness at all.",
)
