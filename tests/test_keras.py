"""threadsafe_gen.keras: the Sequence guard, GeneratorDataset, to_tf_dataset, legacy_fit_input.

Proofs train real Keras 3 and tf_keras models. A recording layer (``run_eagerly=True``) logs the
rows each epoch actually trains on: column 0 is the sample id, column 1 a draw from numpy's global
RNG in the loader ("augmentation"). Exactly-once means every id 0..63 appears once per epoch;
distinct augmentations mean no two rows share a column-1 value.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import keras_loaders as kl
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadsafe_gen.errors import PicklingRefusedError, SharedStateError
from threadsafe_gen.keras import current_epoch, guard

pytestmark = pytest.mark.keras

TESTS = Path(__file__).resolve().parent
ALL_IDS = list(range(kl.N_SAMPLES))


# --- helpers ---------------------------------------------------------------------------------


def fit_keras3(
    data: Any, epochs: int, shuffle: bool = False, **fit_kwargs: Any
) -> list[np.ndarray]:
    """Train a tiny Keras 3 model; return the rows it trained on, one array per epoch."""
    import keras

    seen: dict[int, list[np.ndarray]] = collections.defaultdict(list)
    epoch = [0]

    class Record(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            seen[epoch[0]].append(keras.ops.convert_to_numpy(x))
            return x

    class Epoch(keras.callbacks.Callback):
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

    class Record(tf_keras.layers.Layer):
        def call(self, x: Any) -> Any:
            if hasattr(x, "numpy"):  # not while the model is built symbolically
                seen[epoch[0]].append(x.numpy())
            return x

    class Epoch(tf_keras.callbacks.Callback):
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


# --- guard, no Keras ------------------------------------------------------------------------


def test_guard_rejects_a_class_without_getitem() -> None:
    """guard() names what it expected when the class is not Sequence-like."""

    class NotASequence:
        pass

    with pytest.raises(
        TypeError, match="expected a Sequence-like class with __getitem__ and __len__"
    ):
        guard(NotASequence)


def test_guard_rejects_slots_without_dict() -> None:
    """guard() needs an instance __dict__ and says how to add one."""

    class Slotted:
        __slots__ = ("n",)

        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> int:
            return index

    with pytest.raises(TypeError, match=r"Add '__dict__' to its __slots__"):
        guard(Slotted)


def test_guard_rejects_an_instance() -> None:
    """guard() on an instance says to decorate the class."""
    with pytest.raises(TypeError, match=r"did you mean to decorate its class"):
        guard(kl.AugSequence())  # type: ignore[type-var]


def test_guard_keeps_results_and_counts_epochs() -> None:
    """A guarded sequence returns what the plain one returns and counts on_epoch_end calls once."""
    ds = kl.GuardedAugSequence()
    np.random.seed(3)
    guarded = ds[2]
    np.random.seed(3)
    plain = kl.AugSequence()[2]
    ds.on_epoch_end()
    ds.on_epoch_end()
    assert np.array_equal(guarded[0], plain[0])
    assert current_epoch(ds) == 2
    assert ds.epochs_ended == 2


def test_guard_counts_an_epoch_once_through_super() -> None:
    """A guarded subclass whose on_epoch_end calls a guarded base's counts each epoch once."""

    class Child(kl.GuardedAugSequence):
        def on_epoch_end(self) -> None:
            super().on_epoch_end()

    guard(Child)
    ds = Child()
    ds.on_epoch_end()
    assert current_epoch(ds) == 1
    assert ds.epochs_ended == 1


def test_current_epoch_rejects_unguarded() -> None:
    """current_epoch() explains that it needs a guarded dataset."""
    with pytest.raises(TypeError, match=r"decorated with threadsafe_gen\.keras\.guard"):
        current_epoch(kl.AugSequence())


def test_guard_leaves_the_owner_process_rng_alone() -> None:
    """In the process that built the dataset (main program, worker threads) no reseeding happens."""
    ds = kl.GuardedAugSequence()
    np.random.seed(11)
    ds[0]
    after_guarded = np.random.random()
    np.random.seed(11)
    kl.AugSequence()[0]
    after_plain = np.random.random()
    assert after_guarded == after_plain


@guard(debug=True)
class _Cursor:
    def __init__(self) -> None:
        self.cursor = 0

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        self.cursor += 1
        return self.cursor


@guard(debug=True)
class _DictWriter:
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        self.__dict__["last"] = index
        return index


def test_guard_debug_raises_on_attribute_assignment() -> None:
    """Debug mode: `self.cursor += 1` inside __getitem__ raises SharedStateError naming it."""
    with pytest.raises(
        SharedStateError, match=r"_Cursor.__getitem__ assigned self.cursor while serving index 1"
    ):
        _Cursor()[1]


def test_guard_debug_raises_on_dict_write() -> None:
    """Debug mode also sees a write through __dict__, which bypasses __setattr__."""
    with pytest.raises(SharedStateError, match=r"assigned self.last while serving index 2"):
        _DictWriter()[2]


def test_guard_debug_allows_writes_outside_getitem() -> None:
    """Debug mode only watches __getitem__: __init__ and on_epoch_end may assign."""
    ds = _Cursor()
    ds.cursor = 5
    ds.on_epoch_end()
    assert ds.cursor == 5


def test_guard_debug_from_environment() -> None:
    """THREADSAFE_GEN_DEBUG=1 turns debug mode on for classes guarded without debug=."""
    code = """
        import os, json
        os.environ["THREADSAFE_GEN_DEBUG"] = "1"
        from threadsafe_gen.keras import guard
        from threadsafe_gen.errors import SharedStateError
        @guard
        class C:
            def __len__(self): return 1
            def __getitem__(self, i):
                self.x = i
                return i
        try:
            C()[0]
            print(json.dumps("no error"))
        except SharedStateError as e:
            print(json.dumps(type(e).__name__))
    """
    assert run_script(code, timeout=60) == "SharedStateError"


def test_guard_debug_under_threads() -> None:
    """Debug mode with 4 threads: a pure __getitem__ passes, a writing one raises in every thread."""
    pure_cls = guard(debug=True)(type("PureDebug", (kl.AugSequence,), {}))
    pure, writer = pure_cls(), _Cursor()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        for i in range(len(pure)):
            pure[i]
        try:
            writer[0]
            result = "no error"
        except SharedStateError:
            result = "SharedStateError"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes == ["SharedStateError"] * 4


def _pool_noise(ds: Any, epochs: int, ctx: str, workers: int = 4) -> list[list[float]]:
    """Mimic Keras 3: ds[0] in the parent, then a new pool of *workers* per epoch."""
    out = []
    ds[0]
    for _ in range(epochs):
        with multiprocessing.get_context(ctx).Pool(workers) as pool:
            batches = pool.map(kl.slow_getitem, [(ds, i) for i in range(len(ds))], chunksize=1)
        out.append([float(v) for x, _y in batches for v in x[:, 1]])
        ds.on_epoch_end()
    return out


@pytest.mark.slow
def test_guard_reseeds_forked_workers_per_epoch() -> None:
    """Fork pools like Keras': unguarded workers repeat values; guarded ones never do."""
    plain = _pool_noise(kl.AugSequence(), 2, "fork")
    guarded = _pool_noise(kl.GuardedAugSequence(), 2, "fork")
    assert len(set(plain[0])) < len(plain[0])  # the bug this guards against is real here
    assert len(set(guarded[0])) == len(guarded[0]) == kl.N_SAMPLES
    assert len(set(guarded[1])) == kl.N_SAMPLES
    assert set(guarded[0]) & set(guarded[1]) == set()


# --- guard with Keras 3 ---------------------------------------------------------------------


@pytest.mark.slow
def test_keras3_guard_fork_workers_distinct_augmentations() -> None:
    """Keras 3 PyDataset, 4 forked workers, 2 epochs: every id once, 64/64 distinct draws, no repeats."""
    plain = fit_keras3(kl.AugDataset(delay=0.05, workers=4, use_multiprocessing=True), epochs=1)
    guarded = fit_keras3(
        kl.GuardedAugDataset(delay=0.05, workers=4, use_multiprocessing=True), epochs=2
    )
    assert distinct_noise(plain[0]) < kl.N_SAMPLES  # docs/failure-modes.md row 2d, reproduced
    assert [ids(rows) for rows in guarded] == [ALL_IDS, ALL_IDS]
    assert [distinct_noise(rows) for rows in guarded] == [kl.N_SAMPLES, kl.N_SAMPLES]
    assert set(guarded[0][:, 1].tolist()) & set(guarded[1][:, 1].tolist()) == set()


@pytest.mark.slow
def test_keras3_guard_with_per_process_and_rng_for() -> None:
    """Guard (debug mode) + per_process handle + rng_for(index, current_epoch): forked workers reproduce exact draws."""
    from threadsafe_gen import rng_for

    rows = fit_keras3(kl.RngResourceDataset(workers=2, use_multiprocessing=True), epochs=2)
    assert [ids(r) for r in rows] == [ALL_IDS, ALL_IDS]
    # Keras 3 calls on_epoch_end once before training (EpochIterator.reset), so training epoch
    # e runs with current_epoch() == e + 1 in the parent and in that epoch's forked workers.
    for e, epoch_rows in enumerate(rows):
        order = np.argsort(epoch_rows[:, 0])
        expected = np.concatenate(
            [
                rng_for(i, epoch=e + 1, seed=kl.RNG_SEED).random(kl.BATCH, dtype="float32")
                for i in range(8)
            ]
        )
        assert epoch_rows[order, 1].tolist() == expected.tolist()


@pytest.mark.slow
def test_keras3_guard_debug_stops_fit() -> None:
    """Keras 3 fit (2 worker threads) on a debug-guarded PyDataset that assigns in __getitem__ fails with SharedStateError's text."""
    with pytest.raises(
        Exception, match=r"CursorDataset.__getitem__ assigned self.cursor while serving index"
    ):
        fit_keras3(kl.CursorDataset(workers=2), epochs=1)


@pytest.mark.slow
def test_keras3_guard_threads() -> None:
    """Keras 3 PyDataset, 4 worker threads: every id once per epoch and distinct draws."""
    rows = fit_keras3(kl.GuardedAugDataset(workers=4), epochs=2)
    assert [ids(r) for r in rows] == [ALL_IDS, ALL_IDS]
    assert distinct_noise(np.concatenate(rows)) == 2 * kl.N_SAMPLES


def _alternate(pair: tuple[Any, Any]) -> list[list[float]]:
    a, b = pair
    return [[float(v) for v in ds[i][0][:, 1]] for ds, i in ((a, 0), (b, 0), (a, 1))]


@pytest.mark.slow
def test_guard_two_datasets_in_one_worker_keep_distinct_streams() -> None:
    """Two guarded datasets served alternately by one forked worker never restart or share a stream."""
    a, b = kl.GuardedAugSequence(), kl.GuardedAugSequence()
    a[0]  # the parent uses the global RNG first, as Keras' peek does
    with multiprocessing.get_context("fork").Pool(1) as pool:
        draws = pool.map(_alternate, [(a, b)])[0]
    values = [v for batch in draws for v in batch]
    assert len(set(values)) == 3 * kl.BATCH


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_guard_pickled_to_spawned_workers(method: str) -> None:
    """Spawn/forkserver pools (the guarded dataset pickled each epoch): distinct draws within and across epochs."""
    noise = _pool_noise(kl.GuardedAugSequence(), 2, method, workers=2)
    assert [len(set(values)) for values in noise] == [kl.N_SAMPLES, kl.N_SAMPLES]
    assert set(noise[0]) & set(noise[1]) == set()


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
        kl.id_batches(), workers=2, processes=True, start_method="fork", batches=8
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
        kl.pid_batches(), workers=2, processes=True, start_method=method, batches=8, timeout=120
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

    with pytest.raises(PicklingRefusedError, match="pass processes=True to GeneratorDataset"):
        pickle.dumps(GeneratorDataset(kl.id_batches(), batches=8))


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

    ds = to_tf_dataset(kl.id_batches(), workers=2, processes=True, start_method="fork", batches=8)
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
        "import test_keras; test_keras._persistent_spawn_fit(); print('PERSISTENT-OK')"
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
        processes=True,
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


# --- tf_keras -------------------------------------------------------------------------------


@pytest.mark.slow
def test_tf_keras_legacy_fit_input_generator() -> None:
    """tf_keras fit(legacy_fit_input(generator call, workers=4)): each id exactly once in each of 2 epochs."""
    from threadsafe_gen.keras import legacy_fit_input

    rows = fit_tf_keras(legacy_fit_input(kl.id_batches(), workers=4, batches=8), epochs=2)
    assert [ids(r) for r in rows] == [ALL_IDS] * 2


@pytest.mark.slow
def test_tf_keras_legacy_fit_input_sequence_processes() -> None:
    """tf_keras with a Sequence in 2 forked workers via legacy_fit_input: exactly once, on_epoch_end once per epoch gap."""
    from threadsafe_gen.keras import legacy_fit_input

    seq = kl.GuardedTfkAugSequence()
    data = legacy_fit_input(seq, workers=2, use_multiprocessing=True, start_method="fork")
    rows = fit_tf_keras(data, epochs=3)
    assert [ids(r) for r in rows] == [ALL_IDS] * 3
    assert distinct_noise(np.concatenate(rows)) == 3 * kl.N_SAMPLES
    assert seq.epochs_ended == 2


@pytest.mark.slow
def test_tf_keras_legacy_fit_input_sequence_threads_in_order() -> None:
    """legacy_fit_input(Sequence, workers=4) threads: index order kept, every id once per epoch."""
    from threadsafe_gen.keras import legacy_fit_input

    rows = fit_tf_keras(legacy_fit_input(kl.TfkAugSequence(), workers=4), epochs=2)
    assert [[int(i) for i in r[:, 0]] for r in rows] == [ALL_IDS] * 2


@pytest.mark.slow
def test_tf_keras_guarded_sequence_with_its_own_fork_workers() -> None:
    """tf_keras fit(guarded Sequence, workers=4, use_multiprocessing=True): no duplicates, distinct draws."""
    rows = fit_tf_keras(kl.GuardedTfkAugSequence(), epochs=2, workers=4, use_multiprocessing=True)
    assert [ids(r) for r in rows] == [ALL_IDS] * 2
    assert distinct_noise(np.concatenate(rows)) == 2 * kl.N_SAMPLES
