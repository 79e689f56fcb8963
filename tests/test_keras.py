"""threadsafe_gen.keras as a package (threadsafe_gen/keras/__init__.py and _common.py).

What all adapters share: a light import, Keras' own argument names (``use_multiprocessing``,
with ``processes`` as a deprecated alias), and one run of each shard per epoch. The adapters
have their own files: test_keras_guard.py, test_keras_generator_dataset.py,
test_keras_tf_data.py, test_keras_legacy.py.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from typing import Any

import keras_loaders as kl
import numpy as np
import pytest
from keras_fit import ALL_IDS, fit_keras3, ids

# --- import --------------------------------------------------------------------------------


def test_import_keras_module_is_light() -> None:
    """`import threadsafe_gen.keras` loads neither TensorFlow nor Keras nor tf_keras."""
    code = (
        "import sys, threadsafe_gen.keras\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras', 'tf_keras'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


# --- every generator adapter ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ["GeneratorDataset", "to_tf_dataset"])
def test_one_run_of_each_shard_per_epoch(adapter: str) -> None:
    """Keras 3 fit, 3 epochs: each shard starts exactly once per epoch (no phantom epoch, no replay)."""
    from threadsafe_gen import keras as tsg_keras

    kl.SHARD_STARTS.clear()
    data = getattr(tsg_keras, adapter)(kl.recorded_batches(), workers=2, batches=8)
    rows = fit_keras3(data, epochs=3)
    shard_starts = sorted(s for s in kl.SHARD_STARTS if s is not None)
    assert [ids(r) for r in rows] == [ALL_IDS] * 3
    assert shard_starts == [(e, w) for e in range(3) for w in range(2)]


# --- use_multiprocessing, and processes= as its deprecated alias -----------------------------


def test_generator_dataset_takes_keras_use_multiprocessing() -> None:
    """GeneratorDataset(use_multiprocessing=True): forked shards serve each id once, no warning."""
    from threadsafe_gen.keras import GeneratorDataset

    with GeneratorDataset(
        kl.id_batches(), workers=2, use_multiprocessing=True, start_method="fork", batches=8
    ) as ds:
        ds.on_epoch_begin()
        rows = [ds[i][0] for i in range(len(ds))]
        ds.on_epoch_end()
        assert "processes (fork)" in repr(ds)
    assert ids(np.concatenate(rows)) == ALL_IDS
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("processes", [True, False])
def test_generator_dataset_processes_is_a_deprecated_alias(processes: bool) -> None:
    """GeneratorDataset(processes=...) still works, with a DeprecationWarning at the caller's line."""
    from threadsafe_gen.keras import GeneratorDataset

    with pytest.warns(
        DeprecationWarning, match=rf"pass use_multiprocessing={processes} instead"
    ) as caught:
        ds = GeneratorDataset(kl.id_batches(), workers=2, processes=processes, batches=8)
    ours = [w for w in caught if "use_multiprocessing" in str(w.message)]
    assert [w.filename for w in ours] == [__file__]  # reported where the caller wrote it
    with ds:
        ds.on_epoch_begin()
        rows = [ds[i][0] for i in range(len(ds))]
        ds.on_epoch_end()
        assert ("processes" in repr(ds)) is processes
    assert ids(np.concatenate(rows)) == ALL_IDS


def test_to_tf_dataset_takes_keras_use_multiprocessing() -> None:
    """to_tf_dataset(use_multiprocessing=True): forked shards, each id once per pass, no warning."""
    from threadsafe_gen.keras import to_tf_dataset

    ds = to_tf_dataset(
        kl.pid_batches(), workers=2, use_multiprocessing=True, start_method="fork", batches=8
    )
    rows = _one_pass(ds)
    assert ids(rows) == ALL_IDS
    assert os.getpid() not in {int(p) for p in rows[:, 1]}
    assert multiprocessing.active_children() == []


def test_to_tf_dataset_processes_is_a_deprecated_alias() -> None:
    """to_tf_dataset(processes=True) still runs worker processes, with a DeprecationWarning."""
    from threadsafe_gen.keras import to_tf_dataset

    with pytest.warns(DeprecationWarning, match=r"to_tf_dataset\(processes=\.\.\.\) is deprecated"):
        ds = to_tf_dataset(kl.pid_batches(), workers=2, processes=True, start_method="fork")
    rows = _one_pass(ds)
    assert ids(rows) == ALL_IDS
    assert os.getpid() not in {int(p) for p in rows[:, 1]}
    assert multiprocessing.active_children() == []


def test_processes_and_use_multiprocessing_that_contradict_are_refused() -> None:
    """use_multiprocessing=True with processes=False is a TypeError naming the argument to keep."""
    from threadsafe_gen.keras import GeneratorDataset, to_tf_dataset

    for adapter in (GeneratorDataset, to_tf_dataset):
        with (
            pytest.warns(DeprecationWarning, match=r"\(processes=\.\.\.\) is deprecated"),
            pytest.raises(TypeError, match=r"Pass only use_multiprocessing="),
        ):
            adapter(kl.id_batches(), use_multiprocessing=True, processes=False)


def _one_pass(ds: Any) -> np.ndarray:
    """The rows (x) of one pass over a tf.data dataset of kl batches."""
    return np.concatenate([x for x, _y in ds.as_numpy_iterator()])
