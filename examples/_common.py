"""Shared pieces of the examples: a tiny model that records the sample ids it trains on.

Every example feeds rows whose column 0 is the sample id. `fit_and_count()` trains a tiny
Keras model with ``run_eagerly=True`` so that its first layer can record the ids it actually
sees, then checks that each id arrived exactly once in every epoch. Counting what the model
saw, not what the loader says it produced, is the only way to see duplicated or lost
samples: Keras always asks for ``len()`` batches, so the batch count looks right even when
half the samples are copies (docs/failure-modes.md, rows 1.1 and 4.1).
"""

from __future__ import annotations

import collections
import gc
import os
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

N_SAMPLES = 64
BATCH_SIZE = 8
FEATURES = 4


def make_rows(n: int = N_SAMPLES, features: int = FEATURES) -> np.ndarray:
    """Rows of float32 features whose column 0 is the sample id 0..n-1."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(n, features)).astype(np.float32)
    rows[:, 0] = np.arange(n)
    return rows


def check_each_id_once(per_epoch: list[list[int]], n: int) -> str:
    """Raise AssertionError unless every epoch saw ids 0..n-1 exactly once; return a summary."""
    lines = []
    for epoch, ids in enumerate(per_epoch):
        counts = collections.Counter(ids)
        duplicated = sorted(i for i, c in counts.items() if c > 1)
        missing = sorted(set(range(n)) - set(counts))
        if duplicated or missing or len(ids) != n:
            msg = (
                f"epoch {epoch}: the model saw {len(ids)} samples, {len(counts)} distinct of {n}; "
                f"duplicated ids {duplicated[:10]}, missing ids {missing[:10]}"
            )
            raise AssertionError(msg)
        lines.append(f"epoch {epoch}: {n}/{n} sample ids, each exactly once")
    return "\n".join(lines)


def fit_and_count(
    data: Any,
    *,
    epochs: int = 2,
    n: int = N_SAMPLES,
    features: int = FEATURES,
    legacy: bool = False,
    **fit_kwargs: Any,
) -> list[list[int]]:
    """Train a tiny model on `data` and return the ids it saw, one list per epoch.

    ``legacy=True`` uses tf_keras (Keras 2), whose ``fit()`` still takes ``workers=`` and
    ``use_multiprocessing=``; otherwise Keras 3.
    """
    if legacy:
        import tf_keras as keras
    else:
        import keras

    seen: list[list[int]] = []

    class RecordIds(keras.layers.Layer):  # type: ignore[misc,name-defined]
        """Identity layer that records column 0 (the sample id) of every batch it trains on."""

        def call(self, x: Any) -> Any:
            if hasattr(x, "numpy") and seen:  # eager (training) tensors only, not model building
                seen[-1].extend(int(i) for i in x.numpy()[:, 0])
            return x

    class NewEpoch(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            seen.append([])

    inputs = keras.Input(shape=(features,))
    outputs = keras.layers.Dense(1)(RecordIds()(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    try:
        model.fit(data, epochs=epochs, verbose=0, callbacks=[NewEpoch()], **fit_kwargs)
    finally:
        # Keras 3 (TensorFlow backend) leaves its epoch iterator in a reference cycle. Left
        # to the interpreter's exit, freeing it can hang: its tf.data thread may still wait
        # for the Python generator, and threads cannot take the GIL at exit
        # (docs/known-issues.md). So it is freed here, even when fit() raised.
        del model
        gc.collect()
    return seen


def report(title: str, per_epoch: list[list[int]], n: int = N_SAMPLES) -> None:
    """Check the counts and print them (the examples' output)."""
    print(f"{title}\n{check_each_id_once(per_epoch, n)}")
