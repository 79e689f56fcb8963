"""Helpers for the threadsafe_gen.keras tests: train tiny Keras models and record their rows.

Proofs train real Keras 3 and tf_keras models. A recording layer (``run_eagerly=True``) logs the
rows each epoch actually trains on: column 0 is the sample id, column 1 a draw from numpy's global
RNG in the loader ("augmentation"). Exactly-once means every id 0..63 appears once per epoch;
distinct augmentations mean no two rows share a column-1 value.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import loaders.keras as kl
import numpy as np

TESTS = Path(__file__).resolve().parent.parent
ALL_IDS = list(range(kl.N_SAMPLES))


def fit_keras3(
    data: Any, epochs: int, shuffle: bool = False, **fit_kwargs: Any
) -> list[np.ndarray]:
    """Train a tiny Keras 3 model; return the rows it trained on, one array per epoch."""
    import keras

    seen: dict[int, list[np.ndarray]] = collections.defaultdict(list)
    epoch = [0]

    class Record(keras.layers.Layer):  # type: ignore[misc]  # keras is untyped
        def call(self, x: Any) -> Any:
            seen[epoch[0]].append(keras.ops.convert_to_numpy(x))
            return x

    class Epoch(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_begin(self, e: int, logs: Any = None) -> None:
            epoch[0] = e

    model = keras.Sequential([keras.Input((2,)), Record(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    model.fit(data, epochs=epochs, verbose=0, shuffle=shuffle, callbacks=[Epoch()], **fit_kwargs)
    return [np.concatenate(seen[e]) for e in range(epochs)]


def fit_tf_keras(data: Any, epochs: int, **fit_kwargs: Any) -> list[np.ndarray]:
    """Train a tiny tf_keras model; return the rows it trained on, one array per epoch."""
    import tf_keras

    seen: dict[int, list[np.ndarray]] = collections.defaultdict(list)
    epoch = [0]

    class Record(tf_keras.layers.Layer):  # type: ignore[misc]  # tf_keras is untyped
        def call(self, x: Any) -> Any:
            if hasattr(x, "numpy"):  # not while the model is built symbolically
                seen[epoch[0]].append(x.numpy())
            return x

    class Epoch(tf_keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_begin(self, e: int, logs: Any = None) -> None:
            epoch[0] = e

    model = tf_keras.Sequential([tf_keras.Input((2,)), Record(), tf_keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    model.fit(data, epochs=epochs, verbose=0, shuffle=False, callbacks=[Epoch()], **fit_kwargs)
    return [np.concatenate(seen[e]) for e in range(epochs)]


def ids(rows: np.ndarray) -> list[int]:
    """Sorted sample ids of the rows (duplicates kept)."""
    return sorted(int(i) for i in rows[:, 0])


def distinct_noise(rows: np.ndarray) -> int:
    """How many different augmentation values the rows carry."""
    return len(set(rows[:, 1].tolist()))


def run_script(code: str, timeout: float = 240) -> Any:
    """Run *code* in a fresh interpreter (tests/ importable); return the JSON it prints last."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=TESTS,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
