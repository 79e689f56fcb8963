"""Worker identity and sharding: WorkerInfo, worker_info, shard, auto-sharding of calls."""

from __future__ import annotations

import dataclasses
import pickle
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.strategies import worker_counts
from hypothesis import given
from hypothesis import strategies as st

import threadsafe_gen
from threadsafe_gen import WorkerInfo, shard, threadsafe_generator, worker_info
from threadsafe_gen._sharding import derive_seed, use_worker_info
from threadsafe_gen.errors import ShardingError

# --- module-level generators (spawn/forkserver children import them by name) ----------------


@threadsafe_generator
def numbers(n: int) -> Iterator[int]:
    """Yield 0..n-1, unaware of workers (auto-sharded)."""
    yield from range(n)


@threadsafe_generator
def self_sharded(n: int) -> Iterator[int]:
    """Yield this worker's share of 0..n-1 via shard()."""
    yield from shard(range(n))


@threadsafe_generator
def self_sharded_by_info(n: int) -> Iterator[int]:
    """Split 0..n-1 by hand with worker_info()."""
    info = worker_info()
    ident, count = (0, 1) if info is None else (info.id, info.num_workers)
    for i in range(n):
        if i % count == ident:
            yield i


@threadsafe_generator
def late_shard(n: int) -> Iterator[int]:
    """Yield a header item, then call shard(): too late to count as self-sharded."""
    yield -1
    yield from shard(range(n))


LOGGED: list[int] = []


@threadsafe_generator
def late_info(n: int) -> Iterator[int]:
    """Read worker_info() only after the first item (e.g. for logging): still auto-sharded."""
    for i in range(n):
        yield i
        info = worker_info()
        LOGGED.append(-1 if info is None else info.id)


# --- WorkerInfo, worker_info, shard ------------------------------------------------------------


def test_worker_info_is_none_in_the_main_program() -> None:
    """Outside any worker, worker_info() is None."""
    assert worker_info() is None


def test_worker_info_rejects_bad_values() -> None:
    """WorkerInfo validates id, num_workers and kind with clear messages."""
    with pytest.raises(ValueError, match=r"0 <= id < num_workers, got id=2 with num_workers=2"):
        WorkerInfo(id=2, num_workers=2, seed=0)
    with pytest.raises(ValueError, match=r"num_workers >= 1, got num_workers=0"):
        WorkerInfo(id=0, num_workers=0, seed=0)
    with pytest.raises(ValueError, match=r"kind 'thread' or 'process', got kind='fiber'"):
        WorkerInfo(id=0, num_workers=1, seed=0, kind="fiber")  # type: ignore[arg-type]


def test_worker_info_is_frozen() -> None:
    """WorkerInfo cannot be modified after creation."""
    info = WorkerInfo(id=0, num_workers=1, seed=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.id = 1  # type: ignore[misc]


def test_use_worker_info_nests_and_restores() -> None:
    """use_worker_info sets the current info and restores the previous one on exit."""
    outer = WorkerInfo(id=0, num_workers=2, seed=1)
    inner = WorkerInfo(id=1, num_workers=2, seed=2)
    with use_worker_info(outer):
        with use_worker_info(inner):
            assert worker_info() == inner
        assert worker_info() == outer
    assert worker_info() is None


def test_thread_info_wins_over_process_info(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread's own info wins over the process-wide info; None hides it; other threads see it."""
    import threadsafe_gen._sharding as w

    proc = WorkerInfo(id=1, num_workers=3, seed=5, kind="process")
    monkeypatch.setattr(w, "_process_info", proc)
    thread = WorkerInfo(id=0, num_workers=2, seed=6)
    seen: list[WorkerInfo | None] = []
    t = threading.Thread(target=lambda: seen.append(worker_info()))
    t.start()
    t.join()
    with use_worker_info(thread):
        here = worker_info()
    with use_worker_info(None):
        hidden = worker_info()
    assert (seen, here, hidden, worker_info()) == ([proc], thread, None, proc)


def test_worker_info_is_thread_local() -> None:
    """Each thread sees only the info it set, even when threads run at the same time."""
    barrier = threading.Barrier(4)
    seen: dict[int, int | None] = {}

    def run(i: int) -> None:
        with use_worker_info(WorkerInfo(id=i, num_workers=4, seed=i)):
            barrier.wait()
            info = worker_info()
            seen[i] = None if info is None else info.id

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {0: 0, 1: 1, 2: 2, 3: 3}


def test_shard_is_identity_outside_workers() -> None:
    """shard() yields everything in the main program."""
    assert list(shard(iter([3, 1, 2]))) == [3, 1, 2]


@given(n=st.integers(0, 100), workers=worker_counts)
def test_shards_partition_the_input(n: int, workers: int) -> None:
    """The shards of all workers together are the input, each item once, order kept per shard."""
    parts = []
    for i in range(workers):
        with use_worker_info(WorkerInfo(id=i, num_workers=workers, seed=0)):
            parts.append(list(shard(iter(list(range(n))))))
            ranged = list(shard(range(n)))
        assert ranged == parts[-1]
        assert parts[-1] == list(range(i, n, workers))
    assert sorted(x for p in parts for x in p) == list(range(n))


def test_shard_rejects_non_iterables() -> None:
    """shard() names what it expected."""
    with pytest.raises(TypeError, match=r"shard\(\) expected an iterable, got 3 \(type=int\)"):
        shard(3)  # type: ignore[arg-type]


def test_derive_seed_depends_on_each_part() -> None:
    """Worker seeds differ by base, epoch and id, and are stable."""
    seeds = {derive_seed(b, e, i) for b in (0, 1) for e in (0, 1) for i in (0, 1)}
    assert (len(seeds), derive_seed(1, 2, 3)) == (8, derive_seed(1, 2, 3))


# --- auto-sharding vs self-sharding ----------------------------------------------------------


def _run_as_workers(call_factory: Any, workers: int) -> list[list[Any]]:
    """Run a fresh call per worker id in this thread, with worker info set."""
    out = []
    for i in range(workers):
        with use_worker_info(WorkerInfo(id=i, num_workers=workers, seed=0)):
            out.append(list(call_factory()))
    return out


def test_call_is_auto_sharded_inside_a_worker() -> None:
    """A body unaware of workers yields only positions k % n == id inside worker id."""
    assert _run_as_workers(lambda: numbers(7), 3) == [[0, 3, 6], [1, 4], [2, 5]]


def test_body_calling_shard_is_not_sharded_twice() -> None:
    """A body that calls shard() before its first yield is trusted (self-sharded)."""
    assert _run_as_workers(lambda: self_sharded(7), 3) == [[0, 3, 6], [1, 4], [2, 5]]


def test_body_consulting_worker_info_is_self_sharded() -> None:
    """A body that reads worker_info() splits by itself and is not sharded again."""
    assert _run_as_workers(lambda: self_sharded_by_info(7), 3) == [[0, 3, 6], [1, 4], [2, 5]]


def test_late_shard_call_is_an_error_not_silent_loss() -> None:
    """shard() after the first item of an auto-sharded body raises ShardingError (no double split)."""
    with (
        use_worker_info(WorkerInfo(id=1, num_workers=2, seed=0)),
        pytest.raises(ShardingError, match=r"test_sharding.late_shard\(6\) called shard\(\) after"),
    ):
        list(late_shard(6))


def test_late_worker_info_keeps_auto_sharding() -> None:
    """Reading worker_info() after the first item is allowed and the body stays auto-sharded."""
    LOGGED.clear()
    assert (_run_as_workers(lambda: late_info(5), 2), sorted(set(LOGGED))) == (
        [[0, 2, 4], [1, 3]],
        [0, 1],
    )


@threadsafe_generator
def returns_a_list(n: int) -> list[int]:
    """Not a generator function: returns a list (decorating it still works)."""
    return list(range(n))


@given(
    n=st.integers(0, 120),
    workers=worker_counts,
    gen=st.sampled_from([numbers, self_sharded, self_sharded_by_info, returns_a_list]),
)
def test_every_sharding_mode_partitions_the_items(n: int, workers: int, gen: Any) -> None:
    """Auto, shard() and worker_info() splits all give each item to exactly one worker, in order."""
    parts = _run_as_workers(lambda: gen(n), workers)
    assert (sorted(x for p in parts for x in p), parts) == (
        list(range(n)),
        [list(range(i, n, workers)) for i in range(workers)],
    )


def test_auto_shard_can_be_turned_off() -> None:
    """@threadsafe_generator(auto_shard=False) yields everything even inside a worker."""

    @threadsafe_generator(auto_shard=False)
    def everything(n: int) -> Iterator[int]:
        yield from range(n)

    assert _run_as_workers(lambda: everything(3), 2) == [[0, 1, 2], [0, 1, 2]]


def test_public_names_are_exported() -> None:
    """H1's public names are in threadsafe_gen.__all__."""
    names = {"WorkerInfo", "shard", "threadsafe_generator", "threadsafe_iter", "worker_info"}
    assert names <= set(threadsafe_gen.__all__)


def test_worker_info_pickles() -> None:
    """WorkerInfo round-trips through pickle (it travels to worker processes)."""
    info = WorkerInfo(id=1, num_workers=2, seed=3, epoch=4, kind="process")
    assert pickle.loads(pickle.dumps(info)) == info
