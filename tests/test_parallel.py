"""The parallel_iter engine: worker threads and real worker processes."""

from __future__ import annotations

import collections
import functools
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.strategies import worker_counts
from hypothesis import given
from hypothesis import strategies as st
from test_sharding import late_shard, numbers, self_sharded

from threadsafe_gen import WorkerInfo, shard, threadsafe_generator
from threadsafe_gen._parallel import parallel_iter
from threadsafe_gen._sharding import current_worker_info
from threadsafe_gen.errors import ShardingError, WorkerError

START_METHODS = ["fork", "spawn", "forkserver"]


# --- module-level generators (spawn/forkserver children import them by name) ----------------


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


def test_late_shard_through_the_engine_is_a_worker_error() -> None:
    """Through parallel_iter the ShardingError arrives as the WorkerError's cause."""
    with pytest.raises(WorkerError) as excinfo:
        list(parallel_iter(late_shard(6), workers=2))
    assert type(excinfo.value.__cause__) is ShardingError


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


def _close_while_blocked(use_multiprocessing: bool) -> list[str]:
    """Block a consumer thread in next() on a silent worker, close from here; report its end."""
    kwargs: dict[str, Any] = (
        {"use_multiprocessing": True, "start_method": "fork"} if use_multiprocessing else {}
    )
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
    assert _close_while_blocked(use_multiprocessing=False) == ["StopIteration"]


@pytest.mark.slow
def test_close_from_another_thread_ends_a_blocked_next_processes() -> None:
    """close() from another thread makes a next() blocked on worker processes end cleanly."""
    assert _close_while_blocked(use_multiprocessing=True) == ["StopIteration"]
    assert multiprocessing.active_children() == []


# --- parallel_iter: processes ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "gen"),
    [(m, numbers) for m in START_METHODS] + [("fork", self_sharded)],
)
def test_parallel_processes_yield_every_item_exactly_once(method: str, gen: Any) -> None:
    """Process workers under fork/spawn/forkserver yield each item exactly once (auto and self)."""
    with parallel_iter(gen(101), workers=3, use_multiprocessing=True, start_method=method) as it:
        got = list(it)
    assert collections.Counter(got) == collections.Counter(range(101))


@pytest.mark.slow
def test_parallel_processes_keep_order_when_the_consumer_falls_behind() -> None:
    """A slow consumer (full pipe, so items travel in batches) still gets each item once, in order."""
    with parallel_iter(
        numbers(20_000), workers=1, use_multiprocessing=True, start_method="fork"
    ) as it:
        time.sleep(0.5)  # the worker fills the pipe meanwhile
        got = list(it)
    assert got == list(range(20_000))


@pytest.mark.slow
def test_parallel_processes_set_worker_info_and_run_in_children() -> None:
    """Each process worker has kind 'process', its own id and its own pid (not ours)."""
    got = list(parallel_iter(tagged(8), workers=2, use_multiprocessing=True, start_method="fork"))
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
    got = sorted(parallel_iter(info_from_a_helper_thread(4), workers=2, use_multiprocessing=True))
    assert got == [(0, 0), (1, 1), (2, 0), (3, 1)]


@pytest.mark.slow
def test_parallel_processes_reseed_numpy_per_worker() -> None:
    """Forked workers do not replay the parent's numpy random stream (docs/failure-modes.md row 2d)."""
    import numpy as np

    np.random.seed(0)
    got = list(
        parallel_iter(numpy_draws(8), workers=4, use_multiprocessing=True, start_method="fork")
    )
    assert len(set(got)) == len(got)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_parallel_processes_worker_error(method: str) -> None:
    """A process worker's exception becomes WorkerError with the original chained and its traceback."""
    with pytest.raises(WorkerError, match=r"Worker 1 of 2 \(process\)") as excinfo:
        list(
            parallel_iter(
                raises_at(10, 3), workers=2, use_multiprocessing=True, start_method=method
            )
        )
    cause = excinfo.value.__cause__
    assert (type(cause), str(cause)) == (ValueError, "boom at 3")
    assert "raise ValueError" in str(excinfo.value)
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_parallel_processes_unpicklable_item() -> None:
    """An item that cannot be pickled back to the parent is a WorkerError saying so."""
    with pytest.raises(WorkerError, match=r"could not be sent to the parent process"):
        list(
            parallel_iter(
                yields_unpicklable(), workers=1, use_multiprocessing=True, start_method="fork"
            )
        )


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_parallel import {gen}
    from threadsafe_gen._parallel import parallel_iter
    from threadsafe_gen.errors import ShardingError, WorkerError
    if __name__ == "__main__":
        t = time.monotonic()
        try:
            list(parallel_iter({gen}(50, 5), workers=2, use_multiprocessing=True, start_method={method!r}))
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
    from test_parallel import endless
    from threadsafe_gen._parallel import parallel_iter
    if __name__ == "__main__":
        it = parallel_iter(endless(), workers=2, use_multiprocessing=True, start_method={method!r})
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
    it = parallel_iter(
        stuck(1), workers=1, use_multiprocessing=True, start_method="fork", timeout=1.0
    )
    assert next(it) == 0
    with pytest.raises(WorkerError, match=r"within timeout=1.0 s \(workers still running: 0\)"):
        next(it)
    assert (multiprocessing.active_children(), _child_pids() - before) == ([], set())


@pytest.mark.slow
@pytest.mark.parametrize("how", ["close", "with", "gc"])
def test_early_close_leaves_no_child_processes(how: str) -> None:
    """Stopping an endless process run early (close, with-exit, garbage collection) reaps every child."""
    before = _child_pids()  # multiprocessing's own helpers (fork server, resource tracker)
    it = parallel_iter(endless(), workers=2, use_multiprocessing=True, start_method="fork")
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
    RUNNING = parallel_iter(endless(), workers=2, use_multiprocessing=True, start_method="fork")
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
        (
            {"workers": 2, "start_method": "fork"},
            r"start_method='fork' with use_multiprocessing=False",
        ),
        (
            {"workers": 2, "use_multiprocessing": True, "start_method": "nope"},
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
        parallel_iter(local, workers=2, use_multiprocessing=True, start_method="spawn")


def test_processes_is_a_deprecated_alias_of_use_multiprocessing() -> None:
    """processes= still works, with a DeprecationWarning naming use_multiprocessing=."""
    with pytest.warns(DeprecationWarning, match=r"pass use_multiprocessing=True instead"):
        it = parallel_iter(numbers(6), workers=2, processes=True, start_method="fork")
    with it:
        got = sorted(it)
    assert (got, it.use_multiprocessing) == (list(range(6)), True)


def test_processes_contradicting_use_multiprocessing_is_a_type_error() -> None:
    """processes=False with use_multiprocessing=True is refused, naming both."""
    with (
        pytest.warns(DeprecationWarning, match=r"processes=False\) is deprecated"),
        pytest.raises(TypeError, match=r"use_multiprocessing=True and processes=False"),
    ):
        parallel_iter(numbers(3), workers=2, use_multiprocessing=True, processes=False)
