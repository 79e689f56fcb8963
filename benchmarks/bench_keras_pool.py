"""Keras 3 PyDataset with spawn/forkserver workers: the per-epoch pool start, with and without help.

Keras 3 builds a new ``multiprocessing.Pool`` every epoch (docs/failure-modes.md row 2.0), so under spawn
and forkserver every epoch pays for starting the workers, importing Keras/TF in them, and
unpickling the dataset into each. A dataset holding a large numpy array also pays for pickling
it into every worker, every epoch (2.0b).

Measured per epoch (median of the epochs after the first), workers=2, for:

* ``PyDataset + ndarray``: a Keras 3 PyDataset holding a 128 MiB numpy array (no help);
* ``PyDataset + SharedArray``: the same data in a :class:`threadsafe_gen.SharedArray`, which
  crosses to the workers as a handle;
* ``GeneratorDataset + SharedArray``: the same batches from a ``@threadsafe_generator`` in a
  module that does not import TensorFlow, run by ``threadsafe_gen.keras.GeneratorDataset(...,
  use_multiprocessing=True)``: its workers import only that module.

This script imports Keras lazily, so spawn workers re-importing it as ``__mp_main__`` stay light.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import numpy as np
from _tf_free_source import BATCHES, FEATURES, table_batches
from _util import Result, emit, epoch_time

from threadsafe_gen import SharedArray


def run(quick: bool, methods: list[str] | None = None) -> list[Result]:
    if methods is None:
        methods = ["fork"] if quick else ["fork", "spawn", "forkserver"]  # quick: a smoke run
    if len(methods) > 1:
        # One interpreter per start method: Keras 3 keeps multiprocessing objects from its
        # first pool, which another start method's pool then refuses ("A SemLock created in a
        # fork context is being shared with a process in a spawn context").
        collected: list[Result] = []
        for method in methods:
            cmd = [sys.executable, os.path.abspath(__file__), "--method", method]
            proc = subprocess.run(
                cmd + (["--quick"] if quick else []), capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                msg = f"bench_keras_pool --method {method} failed:\n{proc.stderr[-2000:]}"
                raise RuntimeError(msg)
            collected += [
                Result(**json.loads(line[len("RESULT ") :]))
                for line in proc.stdout.splitlines()
                if line.startswith("RESULT ")
            ]
        return collected
    from _keras_datasets import TableDataset

    from threadsafe_gen.keras import GeneratorDataset

    nbytes = (8 << 20) if quick else (128 << 20)
    epochs = 2 if quick else 3
    plain = np.zeros(nbytes // 8, dtype=np.float64)
    size = f"{nbytes >> 20} MiB"
    results = []
    with SharedArray.from_array(plain) as shared:
        for method in methods:
            multiprocessing.set_start_method(method, force=True)  # what Keras 3's pool uses
            measured = {
                "PyDataset + ndarray": epoch_time(
                    TableDataset(plain, workers=2, use_multiprocessing=True), epochs, FEATURES
                ),
                "PyDataset + SharedArray": epoch_time(
                    TableDataset(shared, workers=2, use_multiprocessing=True), epochs, FEATURES
                ),
            }
            generator = GeneratorDataset(
                table_batches(shared),
                workers=2,
                use_multiprocessing=True,
                start_method=method,
                batches=BATCHES,
            )
            try:
                measured["GeneratorDataset + SharedArray"] = epoch_time(generator, epochs, FEATURES)
            finally:
                generator.close()
            detail = ", ".join(f"{k}: {v:.2f} s/epoch" for k, v in measured.items())
            base = measured["PyDataset + ndarray"]
            name = f"Keras 3, workers=2, {method}, {size} of data"
            results.append(
                Result(
                    name,
                    "epoch time: PyDataset ndarray / PyDataset SharedArray",
                    base / measured["PyDataset + SharedArray"],
                    detail=detail,
                )
            )
            results.append(
                Result(
                    name,
                    "epoch time: PyDataset ndarray / GeneratorDataset (TF-free workers)",
                    base / measured["GeneratorDataset + SharedArray"],
                    detail="same run",
                )
            )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--method", action="append", choices=["fork", "spawn", "forkserver"])
    args = parser.parse_args()
    emit(run(args.quick, args.method))
