"""Keras 3 PyDataset with spawn/forkserver workers: the per-epoch pool start, with and without help.

Keras 3 builds a new ``multiprocessing.Pool`` every epoch (failure-modes 2.0), so under spawn
and forkserver every epoch pays for starting the workers, importing Keras/TF in them, and
unpickling the dataset into each. A dataset holding a large numpy array pays for pickling it
into every worker, every epoch (2.0b). The help measured here: keep the array in a
:class:`threadsafe_gen.SharedArray`, which crosses as a handle.

Measured per epoch (median of the epochs after the first) for a dataset with no array, with
a plain ndarray attribute, and with a SharedArray attribute; fork beside as the floor.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import time
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from _util import Result, emit

from threadsafe_gen import SharedArray

BATCHES = 8
FEATURES = 4


class TableDataset(keras.utils.PyDataset):
    """8 small batches that read one row each from `table` (ndarray, SharedArray or None)."""

    def __init__(self, table: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table

    def __len__(self) -> int:
        return BATCHES

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.full((8, FEATURES), float(index), dtype=np.float32)
        if self.table is not None:
            x[:, 1] = float(np.asarray(self.table)[index])
        return x, x[:, :1]


def epoch_time(dataset: Any, epochs: int) -> float:
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self.t0)

    inputs = keras.Input(shape=(FEATURES,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(dataset, epochs=epochs, verbose=0, callbacks=[Clock()])
    return statistics.median(times[1:]) if len(times) > 1 else times[0]


def run(quick: bool) -> list[Result]:
    nbytes = (8 << 20) if quick else (128 << 20)
    epochs = 1 if quick else 3
    methods = ["fork"] if quick else ["fork", "spawn", "forkserver"]  # quick: a smoke run
    rows = math.ceil(nbytes / 8)
    plain = np.zeros(rows, dtype=np.float64)
    results = []
    with SharedArray.from_array(plain) as shared:
        for method in methods:
            multiprocessing.set_start_method(method, force=True)
            measured = {}
            for label, table in (("no array", None), ("ndarray", plain), ("SharedArray", shared)):
                if quick and label == "no array":
                    continue
                measured[label] = epoch_time(
                    TableDataset(table, workers=2, use_multiprocessing=True), epochs
                )
            size = f"{nbytes >> 20} MiB"
            detail = ", ".join(f"{k}: {v:.2f} s/epoch" for k, v in measured.items())
            results.append(
                Result(
                    f"Keras 3 PyDataset, workers=2, {method}",
                    f"epoch time, {size} ndarray vs {size} SharedArray on the dataset",
                    measured["ndarray"] / measured["SharedArray"],
                    detail=detail,
                )
            )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    emit(run(parser.parse_args().quick))
