"""rng_for: keyed by (seed, epoch, index) only, independent of thread and process."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import threadsafe_gen as tsg
from threadsafe_gen._random import SEED_ENV

indices = st.integers(0, 2**64 - 1)
epochs = st.integers(0, 2**64 - 1)
seeds = st.integers(0, 2**128 - 1)


@given(index=indices, epoch=epochs, seed=seeds)
def test_is_philox_with_key_seed_and_counter_epoch_index(index: int, epoch: int, seed: int) -> None:
    """rng_for is exactly Philox(key=seed, counter=[0, 0, epoch, index]), as documented."""
    counter = (index << 192) | (epoch << 128)  # words [0, 0, epoch, index], exact as an int
    reference = np.random.Generator(np.random.Philox(key=seed, counter=counter))
    assert list(reference.integers(0, 2**63, size=4)) == list(
        tsg.rng_for(index, epoch, seed).integers(0, 2**63, size=4)
    )


@given(index=st.integers(0, 10_000), epoch=st.integers(0, 100), seed=st.integers(0, 2**32))
def test_differs_between_epochs_indices_and_seeds(index: int, epoch: int, seed: int) -> None:
    """Changing the epoch, the index or the seed changes the stream."""
    base = tsg.rng_for(index, epoch, seed).integers(0, 2**63, size=2).tolist()
    others = [
        tsg.rng_for(index, epoch + 1, seed),
        tsg.rng_for(index + 1, epoch, seed),
        tsg.rng_for(index, epoch, seed + 1),
    ]
    assert all(base != g.integers(0, 2**63, size=2).tolist() for g in others)


def test_generators_are_independent_objects() -> None:
    """Two calls return separate Generators: drawing from one does not move the other."""
    first, second = tsg.rng_for(3, 1, 9), tsg.rng_for(3, 1, 9)
    first.random(100)
    assert tsg.rng_for(3, 1, 9).random() == second.random()


def test_same_values_in_8_threads() -> None:
    """8 threads on a Barrier computing rng_for(i) for the same indices get identical values."""
    barrier = threading.Barrier(8)
    results: list[list[float]] = [[] for _ in range(8)]

    def work(k: int) -> None:
        barrier.wait()
        results[k] = [tsg.rng_for(i, 2, seed=5).random() for i in range(50)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    expected = [tsg.rng_for(i, 2, seed=5).random() for i in range(50)]
    assert all(expected == r for r in results)


def draws_in_worker(n: int) -> tuple[int, list[float]]:
    """Draw rng_for(i, epoch=1).random() for i < n with the default seed, in a worker process."""
    return os.getpid(), [tsg.rng_for(i, 1).random() for i in range(n)]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_same_values_in_worker_processes_with_set_seed(method: str) -> None:
    """After set_seed(), fork and spawn workers compute the same values as the parent."""
    previous = os.environ.get(SEED_ENV)
    tsg.set_seed(2024)
    try:
        expected = [tsg.rng_for(i, 1, seed=2024).random() for i in range(20)]
        ctx = multiprocessing.get_context(method)
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            pid, values = pool.submit(draws_in_worker, 20).result(timeout=120)
    finally:
        tsg.set_seed(0)
        if previous is None:
            os.environ.pop(SEED_ENV, None)
        else:
            os.environ[SEED_ENV] = previous
    assert (True, expected) == (pid != os.getpid(), values)


def test_default_seed_is_zero_or_the_environment_variable() -> None:
    """seed=None means 0 by default, or THREADSAFE_GEN_SEED when set at import."""
    code = "import threadsafe_gen as t; print(t.rng_for(4, 1).random() == t.rng_for(4, 1, {}).random())"
    env = {k: v for k, v in os.environ.items() if k != SEED_ENV}
    plain = subprocess.run(
        [sys.executable, "-c", code.format(0)], env=env, capture_output=True, text=True, timeout=60
    )
    seeded = subprocess.run(
        [sys.executable, "-c", code.format(77)],
        env={**env, SEED_ENV: "77"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (plain.stdout.strip(), seeded.stdout.strip()) == ("True", "True")


def test_bad_environment_seed_is_explained() -> None:
    """An invalid THREADSAFE_GEN_SEED fails at import with a message naming the variable."""
    out = subprocess.run(
        [sys.executable, "-c", "import threadsafe_gen"],
        env={**os.environ, SEED_ENV: "abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "THREADSAFE_GEN_SEED='abc' is not a valid seed" in out.stderr


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((-1,), ValueError, "rng_for() expected an index in [0, 2**64), got index=-1"),
        ((2**64,), ValueError, f"rng_for() expected an index in [0, 2**64), got index={2**64}"),
        (
            (1.0,),
            TypeError,
            "rng_for() expected an index in [0, 2**64), got index=1.0 (type=float)",
        ),
        (
            (True,),
            TypeError,
            "rng_for() expected an index in [0, 2**64), got index=True (type=bool)",
        ),
        ((1, -1), ValueError, "rng_for() expected an epoch in [0, 2**64), got epoch=-1"),
        ((1, 0, -5), ValueError, "rng_for() expected a seed in [0, 2**128), got seed=-5"),
        (
            (1, 0, "7"),
            TypeError,
            "rng_for() expected a seed in [0, 2**128), got seed='7' (type=str)",
        ),
    ],
)
def test_bad_arguments_are_explained(args: tuple[object, ...], error: type, message: str) -> None:
    """Negative, too large and non-integer arguments raise a message naming the argument."""
    with pytest.raises(error) as info:
        tsg.rng_for(*args)  # type: ignore[arg-type]
    assert message == str(info.value)


def test_numpy_integers_are_accepted() -> None:
    """numpy integer indices (e.g. from a permutation array) work like Python ints."""
    assert tsg.rng_for(np.int64(5), np.uint32(1)).random() == tsg.rng_for(5, 1).random()
