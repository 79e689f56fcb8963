"""threadsafe_gen.keras.GeneratorDataset (threadsafe_gen/keras/_generator_dataset.py).

A generator's shards in parallel threads or processes as a Keras 3 PyDataset: exactly once per
epoch under fit, including Keras' spec peek, wrong epoch lengths, errors and pickling.
"""

from __future__ import annotations

import multiprocessing
import pickle
import threading

import loaders.keras as kl
import numpy as np
import pytest
from helpers.keras_fit import ALL_IDS, distinct_noise, fit_keras3, ids
from hypothesis import given, settings
from hypothesis import strategies as st

from threadsafe_gen.errors import PicklingRefusedError

pytestmark = pytest.mark.keras

# --- GeneratorDataset -----------------------------------------------------------------------


@pytest.mark.slow
def test_generator_dataset_threads_three_epochs() -> None:
    """GeneratorDataset, 2 thread shards, 3 epochs of Keras 3 fit (shuffled indices): each id exactly once per epoch."""
    from threadsafe_gen.keras import GeneratorDataset

    ds = GeneratorDataset(kl.id_batches(), workers=2, batches=8)
    rows = fit_keras3(ds, epochs=3, shuffle=True)
    assert [ids(r) for r in rows] == [ALL_IDS] * 3
    assert ds.epoch == 3


@pytest.mark.slow
def test_generator_dataset_as_validation_data() -> None:
    """GeneratorDataset as training and validation data: each set seen exactly once per epoch."""
    from threadsafe_gen.keras import GeneratorDataset

    train = GeneratorDataset(kl.id_batches(), workers=2, batches=8)
    val = GeneratorDataset(kl.id_batches(offset=1000), workers=2, batches=8)
    rows = fit_keras3(train, epochs=2, validation_data=val)
    assert [[i for i in ids(r) if i < 1000] for r in rows] == [ALL_IDS] * 2
    assert [[i - 1000 for i in ids(r) if i >= 1000] for r in rows] == [ALL_IDS] * 2


@pytest.mark.slow
def test_generator_dataset_truncates_an_infinite_generator() -> None:
    """truncate=True: 8 batches per epoch from an endless generator, distinct ids, workers stopped after."""
    from threadsafe_gen.keras import GeneratorDataset

    ds = GeneratorDataset(kl.endless(), workers=2, batches=8, truncate=True)
    rows = fit_keras3(ds, epochs=2)
    workers_left = [
        t.name for t in threading.enumerate() if t.name.startswith("threadsafe_gen-worker")
    ]
    assert [len(set(ids(r))) for r in rows] == [kl.N_SAMPLES] * 2
    assert workers_left == []


@pytest.mark.slow
def test_generator_dataset_worker_error_stops_fit() -> None:
    """A generator that raises in a worker stops fit with WorkerError's text (worker id, original error)."""
    from threadsafe_gen.keras import GeneratorDataset

    ds = GeneratorDataset(kl.failing_batches(), workers=2, batches=8)
    with pytest.raises(
        Exception,
        match=r"Worker 1 of 2 \(thread\) running .*failing_batches\(\) raised ValueError: boom at batch 3",
    ):
        fit_keras3(ds, epochs=1)
    ds.close()


@given(n=st.integers(1, 60), workers=st.integers(1, 6), peek=st.integers(0, 2))
@settings(max_examples=25)
def test_generator_dataset_epochs_property(n: int, workers: int, peek: int) -> None:
    """For any length, shard count and spec peek, two epochs via the PyDataset protocol yield each item once."""
    from threadsafe_gen.keras import GeneratorDataset

    ds = GeneratorDataset(kl.numbered(n), workers=workers)
    peeked = [ds[i] for i in range(min(peek, n))]
    ds.on_epoch_end()  # Keras 3's reset() after its peek
    epochs = []
    for _ in range(2):
        ds.on_epoch_begin()
        epochs.append(sorted(ds[i] for i in reversed(range(len(ds)))))
        ds.on_epoch_end()
    ds.close()
    assert epochs == [list(range(n))] * 2
    assert all(p in range(n) for p in peeked)


@pytest.mark.slow
def test_generator_dataset_counts_batches_when_not_given() -> None:
    """Without batches=, GeneratorDataset counts one run; training still sees each id once per epoch."""
    from threadsafe_gen.keras import GeneratorDataset

    ds = GeneratorDataset(kl.id_batches(), workers=4)
    rows = fit_keras3(ds, epochs=2)
    assert len(ds) == 8
    assert [ids(r) for r in rows] == [ALL_IDS] * 2


@pytest.mark.slow
def test_generator_dataset_fork_processes() -> None:
    """GeneratorDataset, 2 forked shards, 3 epochs: exactly once per epoch, new draws each epoch, reaped at close."""
    from threadsafe_gen.keras import GeneratorDataset

    with GeneratorDataset(
        kl.id_batches(), workers=2, use_multiprocessing=True, start_method="fork", batches=8
    ) as ds:
        rows = fit_keras3(ds, epochs=3)
    assert [ids(r) for r in rows] == [ALL_IDS] * 3
    assert distinct_noise(np.concatenate(rows)) == 3 * kl.N_SAMPLES
    assert multiprocessing.active_children() == []


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_generator_dataset_spawn_and_forkserver(method: str) -> None:
    """Spawn / forkserver shards: exactly once in each of 3 epochs, the same 2 worker processes throughout."""
    from threadsafe_gen.keras import GeneratorDataset

    ds = GeneratorDataset(
        kl.pid_batches(),
        workers=2,
        use_multiprocessing=True,
        start_method=method,
        batches=8,
        timeout=120,
    )
    rows = fit_keras3(ds, epochs=3)
    ds.close()
    pids_per_epoch = [sorted({int(p) for p in r[:, 1]}) for r in rows]
    assert [ids(r) for r in rows] == [ALL_IDS] * 3
    assert len(pids_per_epoch[0]) == 2
    assert pids_per_epoch == [pids_per_epoch[0]] * 3
    assert multiprocessing.active_children() == []


def test_generator_dataset_outside_fit_peeks_then_serves_once() -> None:
    """Batches read before an epoch (Keras' spec peek) are served again in it, not drawn twice."""
    from threadsafe_gen.keras import GeneratorDataset

    ds = GeneratorDataset(kl.id_batches(), workers=2, batches=8, seed=1)
    peek = [ds[0][0].copy(), ds[1][0].copy()]
    ds.on_epoch_begin()
    epoch0 = [ds[i][0] for i in range(8)]
    ds.on_epoch_end()
    ds.close()
    assert np.array_equal(epoch0[0], peek[0])
    assert np.array_equal(epoch0[1], peek[1])
    assert ids(np.concatenate(epoch0)) == ALL_IDS


def test_generator_dataset_rejects_wrong_epoch_lengths() -> None:
    """Too few items fails in the epoch; too many fails at on_epoch_end; nothing is dropped silently."""
    from threadsafe_gen.keras import GeneratorDataset

    short = GeneratorDataset(kl.id_batches(), workers=2, batches=9)
    short.on_epoch_begin()
    for i in range(8):
        short[i]
    with pytest.raises(ValueError, match=r"yielded only 8 items, but batches=9"):
        short[8]
    short.close()
    long = GeneratorDataset(kl.short_then_long(), workers=1, batches=8)
    for epoch in range(2):
        long.on_epoch_begin()
        for i in range(8):
            long[i]
        if epoch == 1:
            with pytest.raises(ValueError, match=r"epoch 1 of .* yielded more than batches=8"):
                long.on_epoch_end()
        else:
            long.on_epoch_end()


def test_generator_dataset_rejects_a_generator_object() -> None:
    """A generator object (not its function) gets a 'did you mean' TypeError."""
    from threadsafe_gen.keras import GeneratorDataset

    gen = (b for b in [kl.make_batch(0)])
    with pytest.raises(TypeError, match=r"Did you mean to pass the function"):
        GeneratorDataset(gen)


def test_generator_dataset_refuses_pickling() -> None:
    """GeneratorDataset owns running workers: pickling it raises PicklingRefusedError."""
    from threadsafe_gen.keras import GeneratorDataset

    with pytest.raises(
        PicklingRefusedError, match="pass use_multiprocessing=True to GeneratorDataset"
    ):
        pickle.dumps(GeneratorDataset(kl.id_batches(), batches=8))
