"""threadsafe_gen.keras.guard and current_epoch (threadsafe_gen/keras/_guard.py).

Without Keras, then under Keras 3 and tf_keras fit with worker threads and processes: the guard
keeps __getitem__ lock-free, reseeds per worker process and epoch, and its debug mode catches
assignments inside __getitem__.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import loaders.keras as kl
import numpy as np
import pytest
from helpers.keras_fit import ALL_IDS, distinct_noise, fit_keras3, fit_tf_keras, ids, run_script

from threadsafe_gen.errors import SharedStateError
from threadsafe_gen.keras import current_epoch, guard

pytestmark = pytest.mark.keras

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
        guard(kl.AugSequence())  # type: ignore[call-overload]  # an instance, on purpose


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
    ds.on_epoch_end()  # type: ignore[attr-defined]  # guard() adds it to the class
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


def _reseed_in_child(ds: Any) -> None:
    """In a forked child: serve a batch, which reseeds (the child is not the dataset's owner)."""
    ds[0]


def test_guard_reseeds_in_a_child_forked_while_another_thread_holds_its_lock() -> None:
    """A worker forked while another parent thread holds the guard's seed lock reseeds without hanging."""
    from threadsafe_gen.keras import _guard

    ds = kl.GuardedAugSequence()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with _guard._seed_lock:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        child = multiprocessing.get_context("fork").Process(target=_reseed_in_child, args=(ds,))
        child.start()
        child.join(30)
        if child.exitcode is None:  # hung on the lock: fail instead of hanging the suite
            child.kill()
            child.join(5)
    finally:
        release.set()
        holder.join(10)
    assert child.exitcode == 0


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


# --- guard with tf_keras ------------------------------------------------------------------


@pytest.mark.slow
def test_tf_keras_guarded_sequence_with_its_own_fork_workers() -> None:
    """tf_keras fit(guarded Sequence, workers=4, use_multiprocessing=True): no duplicates, distinct draws."""
    rows = fit_tf_keras(kl.GuardedTfkAugSequence(), epochs=2, workers=4, use_multiprocessing=True)
    assert [ids(r) for r in rows] == [ALL_IDS] * 2
    assert distinct_noise(np.concatenate(rows)) == 2 * kl.N_SAMPLES
