"""Worker identity, sharding and the parallel_iter engine (threads and real processes)."""

from __future__ import annotations

import collections
import dataclasses
import functools
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import worker_counts

import threadsafe_gen
from threadsafe_gen import WorkerInfo, shard, threadsafe_generator, worker_info
from threadsafe_gen._workers import (
    current_worker_info,
    derive_seed,
    parallel_iter,
    use_worker_info,
)
from threadsafe_gen.errors import ShardingError, WorkerError

START_METHODS = ["fork", "spawn", "forkserver"]


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
def tagged(n: int) -> Iterator[tuple[int, int, str, int]]:
    """Yield (item, worker id, kind, pid) so tests see where each item was made."""
    for i in range(n):
        info = current_worker_info()
        assert info is not None
        yield (i, info.id, info.kind, os.getpid())


@threadsafe_generator
def raises_at(n: int, k: int) -> Iterator[int]:
    """Yield this worker's share of 0..n-1 but raise ValueError at item k (only its worker)."""
    for i in shard(range(n)):
        if i == k:
            raise ValueError(f"boom at {k}")
        yield i


@threadsafe_generator
def exits_at(n: int, k: int) -> Iterator[int]:
    """Yield this worker's share of 0..n-1 but kill the process with os._exit(13) at item k."""
    for i in shard(range(n)):
        if i == k:
            os._exit(13)
        yield i


@threadsafe_generator
def killed_at(n: int, k: int) -> Iterator[int]:
    """Yield this worker's share of 0..n-1 but SIGKILL its own process at item k."""
    for i in shard(range(n)):
        if i == k:
            os.kill(os.getpid(), signal.SIGKILL)
        yield i


@threadsafe_generator
def endless() -> Iterator[int]:
    """Yield 0, 1, 2, ... for ever."""
    i = 0
    while True:
        yield i
        i += 1


@threadsafe_generator
def stuck(n: int) -> Iterator[int]:
    """Yield n items then block far longer than the tests' timeouts."""
    yield from range(n)
    time.sleep(5)


@threadsafe_generator
def numpy_draws(n: int) -> Iterator[float]:
    """Yield n draws of numpy's global RNG (reseeded per worker by the engine)."""
    import numpy as np

    for _ in range(n):
        yield float(np.random.random())


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


def plain_range(n: int) -> range:
    """A plain (undecorated) zero-arg-able callable returning an iterable."""
    return range(n)


class Unpicklable:
    """An object pickle refuses, for messages tests."""

    def __reduce__(self) -> Any:
        raise TypeError("no pickling for you")


@threadsafe_generator
def yields_unpicklable() -> Iterator[Any]:
    """Yield one item that cannot travel back to the parent."""
    yield Unpicklable()


def _child_pids() -> set[int]:
    """Pids of our live (non-zombie) children, read from /proc (no psutil)."""
    me = os.getpid()
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == me and state != "Z":
            out.add(int(entry))
    return out


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
    import threadsafe_gen._workers as w

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
        pytest.raises(ShardingError, match=r"test_workers.late_shard\(6\) called shard\(\) after"),
    ):
        list(late_shard(6))


def test_late_shard_through_the_engine_is_a_worker_error() -> None:
    """Through parallel_iter the ShardingError arrives as the WorkerError's cause."""
    with pytest.raises(WorkerError) as excinfo:
        list(parallel_iter(late_shard(6), workers=2))
    assert type(excinfo.value.__cause__) is ShardingError


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


# --- parallel_iter: threads ------------------------------------------------------------------


@given(n=st.integers(0, 200), workers=worker_counts, self_split=st.booleans())
def test_parallel_threads_yield_every_item_exactly_once(
    n: int, workers: int, self_split: bool
) -> None:
    """For any size and worker count, thread workers together yield each item exactly once."""
    call = self_sharded(n) if self_split else numbers(n)
    with parallel_iter(call, workers=workers, seed=0) as it:
        got = list(it)
    assert collections.Counter(got) == collections.Counter(range(n))


def test_parallel_threads_set_worker_info() -> None:
    """Each thread worker sees its own id, kind 'thread', the epoch and a per-worker seed."""
    got = list(parallel_iter(tagged(12), workers=3, epoch=4, seed=9))
    by_worker = collections.defaultdict(list)
    for item, wid, kind, _pid in got:
        by_worker[wid].append((item, kind))
    expected = {w: [(i, "thread") for i in range(w, 12, 3)] for w in range(3)}
    assert dict(by_worker) == expected


def test_parallel_threads_accept_a_plain_callable() -> None:
    """A zero-argument callable is auto-sharded like a decorated call."""
    got = list(parallel_iter(functools.partial(plain_range, 10), workers=3))
    assert sorted(got) == list(range(10))


def test_parallel_threads_worker_error_names_the_worker() -> None:
    """A worker that raises becomes WorkerError naming it, with the original as the cause."""
    with pytest.raises(WorkerError, match=r"Worker 1 of 2 \(thread\)") as excinfo:
        list(parallel_iter(raises_at(10, 3), workers=2))
    cause = excinfo.value.__cause__
    assert (type(cause), str(cause)) == (ValueError, "boom at 3")


def test_parallel_iter_error_is_sticky() -> None:
    """After a WorkerError, later next() calls raise it again instead of a clean StopIteration."""
    it = parallel_iter(raises_at(10, 3), workers=2)
    with pytest.raises(WorkerError) as first:
        list(it)
    with pytest.raises(WorkerError) as second:
        next(it)
    assert second.value is first.value


def test_parallel_threads_timeout() -> None:
    """No item within `timeout` seconds raises WorkerError instead of waiting for ever."""
    it = parallel_iter(stuck(2), workers=2, timeout=0.5)
    got = [next(it), next(it)]
    with pytest.raises(WorkerError, match=r"within timeout=0.5 s"):
        next(it)
    assert sorted(got) == [0, 1]


def test_parallel_threads_close_early_stops_workers() -> None:
    """Closing an endless run stops its threads."""
    it = parallel_iter(endless(), workers=3)
    first = [next(it) for _ in range(20)]
    it.close()
    alive = [t for t in it._threads if t.is_alive()]
    assert (len(first), len(it._threads), alive) == (20, 3, [])


def _close_while_blocked(processes: bool) -> list[str]:
    """Block a consumer thread in next() on a silent worker, close from here; report its end."""
    kwargs: dict[str, Any] = {"processes": True, "start_method": "fork"} if processes else {}
    it = parallel_iter(stuck(0), workers=1, **kwargs)
    endings: list[str] = []
    waiting = threading.Event()

    def consume() -> None:
        waiting.set()
        try:
            next(it)
            endings.append("item")
        except StopIteration:
            endings.append("StopIteration")
        except Exception as exc:
            endings.append(type(exc).__name__)

    consumer = threading.Thread(target=consume)
    consumer.start()
    waiting.wait()
    time.sleep(0.2)  # let it block in the engine's wait
    it.close()
    consumer.join(10)
    return endings


def test_close_from_another_thread_ends_a_blocked_next() -> None:
    """close() from another thread makes a next() blocked on thread workers end with StopIteration."""
    assert _close_while_blocked(processes=False) == ["StopIteration"]


@pytest.mark.slow
def test_close_from_another_thread_ends_a_blocked_next_processes() -> None:
    """close() from another thread makes a next() blocked on worker processes end cleanly."""
    assert _close_while_blocked(processes=True) == ["StopIteration"]
    assert multiprocessing.active_children() == []


# --- parallel_iter: processes ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "gen"),
    [(m, numbers) for m in START_METHODS] + [("fork", self_sharded)],
)
def test_parallel_processes_yield_every_item_exactly_once(method: str, gen: Any) -> None:
    """Process workers under fork/spawn/forkserver yield each item exactly once (auto and self)."""
    with parallel_iter(gen(101), workers=3, processes=True, start_method=method) as it:
        got = list(it)
    assert collections.Counter(got) == collections.Counter(range(101))


@pytest.mark.slow
def test_parallel_processes_keep_order_when_the_consumer_falls_behind() -> None:
    """A slow consumer (full pipe, so items travel in batches) still gets each item once, in order."""
    with parallel_iter(numbers(20_000), workers=1, processes=True, start_method="fork") as it:
        time.sleep(0.5)  # the worker fills the pipe meanwhile
        got = list(it)
    assert got == list(range(20_000))


@pytest.mark.slow
def test_parallel_processes_set_worker_info_and_run_in_children() -> None:
    """Each process worker has kind 'process', its own id and its own pid (not ours)."""
    got = list(parallel_iter(tagged(8), workers=2, processes=True, start_method="fork"))
    pids = {pid for *_, pid in got}
    by_worker = {wid: sorted(i for i, w, _, _ in got if w == wid) for wid in (0, 1)}
    kinds = {kind for _, _, kind, _ in got}
    assert (by_worker, kinds, len(pids), os.getpid() in pids) == (
        {0: [0, 2, 4, 6], 1: [1, 3, 5, 7]},
        {"process"},
        2,
        False,
    )


@threadsafe_generator
def info_from_a_helper_thread(n: int) -> Iterator[tuple[int, int | None]]:
    """Yield (item, worker id as seen from a thread this worker starts)."""
    seen: list[WorkerInfo | None] = []
    helper = threading.Thread(target=lambda: seen.append(current_worker_info()))
    helper.start()
    helper.join()
    for i in shard(range(n)):
        yield (i, None if seen[0] is None else seen[0].id)


@pytest.mark.slow
def test_threads_inside_a_worker_process_see_its_info() -> None:
    """A thread started inside a worker process sees that process's WorkerInfo."""
    got = sorted(parallel_iter(info_from_a_helper_thread(4), workers=2, processes=True))
    assert got == [(0, 0), (1, 1), (2, 0), (3, 1)]


@pytest.mark.slow
def test_parallel_processes_reseed_numpy_per_worker() -> None:
    """Forked workers do not replay the parent's numpy random stream (docs/failure-modes.md row 2d)."""
    import numpy as np

    np.random.seed(0)
    got = list(parallel_iter(numpy_draws(8), workers=4, processes=True, start_method="fork"))
    assert len(set(got)) == len(got)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_parallel_processes_worker_error(method: str) -> None:
    """A process worker's exception becomes WorkerError with the original chained and its traceback."""
    with pytest.raises(WorkerError, match=r"Worker 1 of 2 \(process\)") as excinfo:
        list(parallel_iter(raises_at(10, 3), workers=2, processes=True, start_method=method))
    cause = excinfo.value.__cause__
    assert (type(cause), str(cause)) == (ValueError, "boom at 3")
    assert "raise ValueError" in str(excinfo.value)
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_parallel_processes_unpicklable_item() -> None:
    """An item that cannot be pickled back to the parent is a WorkerError saying so."""
    with pytest.raises(WorkerError, match=r"could not be sent to the parent process"):
        list(parallel_iter(yields_unpicklable(), workers=1, processes=True, start_method="fork"))


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_workers import {gen}
    from threadsafe_gen._workers import parallel_iter
    from threadsafe_gen.errors import ShardingError, WorkerError
    if __name__ == "__main__":
        t = time.monotonic()
        try:
            list(parallel_iter({gen}(50, 5), workers=2, processes=True, start_method={method!r}))
        except WorkerError as e:
            print("WorkerError", round(time.monotonic() - t, 1))
            print(e)
        import multiprocessing
        print("children", len(multiprocessing.active_children()))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "gen", "how"),
    [
        ("fork", "exits_at", "exited with code 13"),
        ("spawn", "exits_at", "exited with code 13"),
        ("fork", "killed_at", "was killed by SIGKILL"),
    ],
)
def test_worker_process_that_dies_is_an_error_not_a_hang(method: str, gen: str, how: str) -> None:
    """A worker that os._exit()s or is killed gives WorkerError saying how (subprocess, timeout)."""
    script = CRASH_SCRIPT.format(tests=os.path.dirname(__file__), method=method, gen=gen)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=90, check=True
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith("WorkerError"), out.stdout + out.stderr
    assert how in out.stdout
    assert lines[-1] == "children 0"


ORPHAN_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from test_workers import endless
    from threadsafe_gen._workers import parallel_iter
    if __name__ == "__main__":
        it = parallel_iter(endless(), workers=2, processes=True, start_method={method!r})
        next(it)
        print(" ".join(str(p.pid) for p in it._procs.values()), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no atexit: a crashed trainer
    """
)


def _alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_workers_exit_when_the_parent_is_killed(method: str) -> None:
    """Worker processes of a SIGKILLed parent exit by themselves (no orphans left running)."""
    script = ORPHAN_SCRIPT.format(tests=os.path.dirname(__file__), method=method)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=90, check=False
    )
    pids = [int(p) for p in out.stdout.split()]
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (out.returncode, len(pids), [p for p in pids if _alive(p)]) == (-9, 2, [])


@pytest.mark.slow
def test_worker_process_timeout() -> None:
    """A process worker stuck in the generator gives WorkerError after `timeout` and is reaped."""
    before = _child_pids()  # multiprocessing's own helpers (fork server, resource tracker)
    it = parallel_iter(stuck(1), workers=1, processes=True, start_method="fork", timeout=1.0)
    assert next(it) == 0
    with pytest.raises(WorkerError, match=r"within timeout=1.0 s \(workers still running: 0\)"):
        next(it)
    assert (multiprocessing.active_children(), _child_pids() - before) == ([], set())


@pytest.mark.slow
@pytest.mark.parametrize("how", ["close", "with", "gc"])
def test_early_close_leaves_no_child_processes(how: str) -> None:
    """Stopping an endless process run early (close, with-exit, garbage collection) reaps every child."""
    before = _child_pids()  # multiprocessing's own helpers (fork server, resource tracker)
    it = parallel_iter(endless(), workers=2, processes=True, start_method="fork")
    during = len(_child_pids() - before)
    got = [next(it) for _ in range(10)]
    if how == "close":
        it.close()
    elif how == "with":
        with it:
            pass
    else:
        del it
    assert (len(got), during, multiprocessing.active_children(), _child_pids() - before) == (
        10,
        2,
        [],
        set(),
    )


RUNNING: Any = None


def _close_inherited_copy() -> None:
    """Child process body: close the forked copy of the parent's running iterator."""
    RUNNING.close()


@pytest.mark.slow
def test_closing_a_forked_copy_leaves_the_parents_workers_alone() -> None:
    """A forked child that closes (or garbage-collects) its copy does not stop the parent's run."""
    global RUNNING
    RUNNING = parallel_iter(endless(), workers=2, processes=True, start_method="fork")
    try:
        before = [next(RUNNING) for _ in range(5)]
        child = multiprocessing.get_context("fork").Process(target=_close_inherited_copy)
        child.start()
        child.join(30)
        after = [next(RUNNING) for _ in range(50)]
    finally:
        RUNNING.close()
    assert (child.exitcode, len(before), len(after)) == (0, 5, 50)


# --- parallel_iter: bad input ----------------------------------------------------------------


def test_parallel_iter_rejects_a_started_call() -> None:
    """A started call cannot be re-created in workers without duplicating data."""
    call = numbers(3)
    next(call)
    with pytest.raises(ValueError, match=r"needs an unstarted call"):
        parallel_iter(call, workers=2)


def test_parallel_iter_rejects_iterators_with_a_hint() -> None:
    """A generator object is refused with a 'did you mean' hint."""
    with pytest.raises(TypeError, match=r"Did you mean to pass the generator function's call"):
        parallel_iter(iter([1]), workers=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, r"workers to be an int >= 1, got workers=0"),
        ({"workers": 2, "start_method": "fork"}, r"start_method='fork' with processes=False"),
        (
            {"workers": 2, "processes": True, "start_method": "nope"},
            r"start_method to be one of",
        ),
        ({"workers": 2, "timeout": 0}, r"timeout > 0 seconds or None, got timeout=0"),
    ],
)
def test_parallel_iter_validates_options(kwargs: dict[str, Any], message: str) -> None:
    """Bad options are refused with a message naming the option."""
    with pytest.raises(ValueError, match=message):
        parallel_iter(numbers(3), **kwargs)


def test_parallel_iter_refuses_unpicklable_callable_for_spawn() -> None:
    """A local function cannot be sent to spawn workers: a clear TypeError before starting."""

    def local() -> range:
        return range(3)

    with pytest.raises(TypeError, match=r"must pickle .*local.* to send it to each worker"):
        parallel_iter(local, workers=2, processes=True, start_method="spawn")


def test_public_names_are_exported() -> None:
    """H1's public names are in threadsafe_gen.__all__."""
    names = {"WorkerInfo", "shard", "threadsafe_generator", "threadsafe_iter", "worker_info"}
    assert names <= set(threadsafe_gen.__all__)


def test_worker_info_pickles() -> None:
    """WorkerInfo round-trips through pickle (it travels to worker processes)."""
    info = WorkerInfo(id=1, num_workers=2, seed=3, epoch=4, kind="process")
    assert pickle.loads(pickle.dumps(info)) == info
