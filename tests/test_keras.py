"""threadsafe_gen.keras as a package (threadsafe_gen/keras/__init__.py and _common.py).

What all adapters share: a light import, Keras' own argument names (``use_multiprocessing``,
with ``processes`` as a deprecated alias), and one run of each shard per epoch. The adapters
have their own files: test_keras_guard.py, test_keras_generator_dataset.py,
test_keras_tf_data.py, test_keras_legacy.py.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import pkgutil
import subprocess
import sys
import threading
from typing import Any

import loaders.keras as kl
import numpy as np
import pytest
from helpers.keras_fit import ALL_IDS, fit_keras3, ids

import threadsafe_gen
import threadsafe_gen.keras

pytestmark = pytest.mark.keras

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


# --- locks after fork ------------------------------------------------------------------------

_LOCK_TYPES = (
    type(threading.Lock()),
    type(threading.RLock()),
    threadsafe_gen.Lock,
    threadsafe_gen.RLock,
)


def _module_locks() -> dict[str, Any]:
    """Every lock held in a module-level variable of a threadsafe_gen.keras module, by name."""
    found = {}
    modules = ["threadsafe_gen.keras"] + [
        info.name
        for info in pkgutil.walk_packages(threadsafe_gen.keras.__path__, "threadsafe_gen.keras.")
    ]
    for module in modules:
        for name, value in vars(importlib.import_module(module)).items():
            if isinstance(value, _LOCK_TYPES):
                found[f"{module}.{name}"] = value
    return found


def test_module_level_locks_are_fork_safe() -> None:
    """Every module-level lock of threadsafe_gen.keras is re-created in a forked child (ours)."""
    locks = _module_locks()
    assert "threadsafe_gen.keras._guard._seed_lock" in locks
    raw = sorted(n for n, lock in locks.items() if not isinstance(lock, threadsafe_gen.Lock))
    assert raw == [], "use threadsafe_gen._locks.Lock, or re-create the lock after fork"


def _take_or_fail(name: str) -> None:
    """In a forked child: take the lock *name*, or exit 3 after 10 s instead of hanging."""
    if not _module_locks()[name].acquire(timeout=10):
        sys.exit(3)


@pytest.mark.parametrize("name", sorted(_module_locks()))
def test_forked_child_takes_a_lock_held_by_another_parent_thread(name: str) -> None:
    """Keras forks from a helper thread: a lock another thread held at fork is free in the child."""
    lock = _module_locks()[name]
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        child = multiprocessing.get_context("fork").Process(target=_take_or_fail, args=(name,))
        child.start()
        child.join(30)
        if child.exitcode is None:  # hung: a regression must fail, not hang the suite
            child.kill()
            child.join(5)
    finally:
        release.set()
        holder.join(10)
    assert child.exitcode == 0, f"the forked child could not take {name} (exit {child.exitcode})"
