"""threadsafe_gen.keras.to_tf_dataset (threadsafe_gen/keras/_tf_data.py).

A generator's shards as a tf.data.Dataset, in tf.data threads or worker processes (per pass or
persistent), under Keras 3 fit.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import loaders.keras as kl
import numpy as np
import pytest
from helpers.keras_fit import ALL_IDS, TESTS, distinct_noise, fit_keras3, ids

pytestmark = pytest.mark.keras

# --- to_tf_dataset --------------------------------------------------------------------------


@pytest.mark.slow
def test_to_tf_dataset_threads_keras3() -> None:
    """to_tf_dataset with 4 thread shards under Keras 3 fit: each id exactly once in each of 3 epochs."""
    from threadsafe_gen.keras import to_tf_dataset

    rows = fit_keras3(to_tf_dataset(kl.id_batches(), workers=4, batches=8), epochs=3)
    assert [ids(r) for r in rows] == [ALL_IDS] * 3


def test_to_tf_dataset_is_deterministic_round_robin() -> None:
    """deterministic=True: batches come round-robin over shards, the same order every pass."""
    from threadsafe_gen.keras import to_tf_dataset

    ds = to_tf_dataset(kl.id_batches(), workers=2)
    first = [int(x[0, 0]) // kl.BATCH for x, _y in ds.as_numpy_iterator()]
    second = [int(x[0, 0]) // kl.BATCH for x, _y in ds.as_numpy_iterator()]
    assert first == [0, 1, 2, 3, 4, 5, 6, 7]
    assert second == first


@pytest.mark.slow
def test_to_tf_dataset_fork_processes_keras3() -> None:
    """to_tf_dataset with 2 forked shards under Keras 3 fit: exactly once per epoch, new draws each epoch."""
    from threadsafe_gen.keras import to_tf_dataset

    ds = to_tf_dataset(
        kl.id_batches(), workers=2, use_multiprocessing=True, start_method="fork", batches=8
    )
    rows = fit_keras3(ds, epochs=2)
    assert multiprocessing.active_children() == []  # per-pass workers (the default) are reaped
    assert [ids(r) for r in rows] == [ALL_IDS] * 2
    assert distinct_noise(np.concatenate(rows)) == 2 * kl.N_SAMPLES


@pytest.mark.slow
def test_to_tf_dataset_spawn_keeps_its_workers_across_epochs() -> None:
    """to_tf_dataset(persistent_workers=True), 2 spawn shards, 3 Keras 3 epochs: exactly once each, the same 2 processes.

    Persistent workers live until the program exits (tf.data keeps the generator referenced,
    as documented), so the fit runs in its own interpreter and the test process keeps no child.
    """
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import test_keras_tf_data; test_keras_tf_data._persistent_spawn_fit(); print('PERSISTENT-OK')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(TESTS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (out.returncode, out.stdout.strip().splitlines()[-1:]) == (0, ["PERSISTENT-OK"]), (
        out.stderr[-3000:]
    )


def _persistent_spawn_fit() -> None:
    from threadsafe_gen.keras import to_tf_dataset

    data = to_tf_dataset(
        kl.pid_batches(),
        workers=2,
        use_multiprocessing=True,
        start_method="spawn",
        batches=8,
        timeout=120,
        persistent_workers=True,
    )
    rows = fit_keras3(data, epochs=3)
    pids_per_epoch = [sorted({int(p) for p in r[:, 1]}) for r in rows]
    assert [ids(r) for r in rows] == [ALL_IDS] * 3
    assert len(pids_per_epoch[0]) == 2
    assert pids_per_epoch == [pids_per_epoch[0]] * 3
