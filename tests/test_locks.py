"""Lock proxies: threading parity, pickling in every state, spawn/forkserver children, fork safety."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import Any, Protocol

import pytest
from hypothesis import given
from hypothesis import strategies as st

import threadsafe_gen as tsg
from threadsafe_gen.errors import PicklingRefusedError


class Mutex(Protocol):
    """What the mutex tests use of a primitive: Lock, RLock, Condition and the semaphores."""

    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> object: ...
    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> object: ...


MUTEX_FACTORIES: dict[str, Callable[[], Mutex]] = {
    "Lock": tsg.Lock,
    "RLock": tsg.RLock,
    "Condition": tsg.Condition,
    "Semaphore": lambda: tsg.Semaphore(1),
    "BoundedSemaphore": lambda: tsg.BoundedSemaphore(1),
}


def run_on_barrier(n_threads: int, target: Any) -> None:
    """Start n_threads running target(i) together on a Barrier and join them."""
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:  # surfaced below, never lost
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


# --- behaviour parity with threading ---------------------------------------------------


@given(
    kind=st.sampled_from(sorted(MUTEX_FACTORIES)),
    n_threads=st.integers(1, 8),
    rounds=st.integers(1, 40),
)
def test_mutual_exclusion_under_barrier(kind: str, n_threads: int, rounds: int) -> None:
    """Each primitive used as a mutex keeps a read-yield-write counter exact for 1-8 threads."""
    mutex = MUTEX_FACTORIES[kind]()
    state = {"count": 0, "inside": 0, "max_inside": 0}

    def work(_: int) -> None:
        for _ in range(rounds):
            with mutex:
                state["inside"] += 1
                state["max_inside"] = max(state["max_inside"], state["inside"])
                value = state["count"]
                time.sleep(0)  # invite a thread switch inside the critical section
                state["count"] = value + 1
                state["inside"] -= 1

    run_on_barrier(n_threads, work)
    assert n_threads * rounds == state["count"]
    assert state["max_inside"] == 1


@pytest.mark.parametrize("kind", ["Lock", "RLock", "Semaphore", "BoundedSemaphore"])
def test_acquire_timeout_and_nonblocking_when_held_elsewhere(kind: str) -> None:
    """acquire(blocking=False) and acquire(timeout=...) return False while another thread holds it."""
    mutex = MUTEX_FACTORIES[kind]()
    held, done = threading.Event(), threading.Event()

    def holder() -> None:
        with mutex:
            held.set()
            done.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    try:
        assert mutex.acquire(blocking=False) is False
        assert mutex.acquire(timeout=0.05) is False
    finally:
        done.set()
        t.join(10)
    assert mutex.acquire(timeout=1) is True
    mutex.release()


def test_lock_acquire_release_locked_and_errors_match_threading() -> None:
    """Lock.acquire/release/locked return and raise what threading.Lock does."""
    ours, theirs = tsg.Lock(), threading.Lock()
    assert theirs.acquire() == ours.acquire()
    assert theirs.locked() == ours.locked()
    theirs.release()
    ours.release()
    assert theirs.locked() == ours.locked()
    with pytest.raises(RuntimeError) as raw_error:
        theirs.release()
    with pytest.raises(RuntimeError) as our_error:
        ours.release()
    assert str(raw_error.value) == str(our_error.value)


def test_rlock_reentrancy_and_owner_only_release() -> None:
    """RLock is reentrant for its owner, locked() sees any depth, and other threads cannot release it."""
    lock = tsg.RLock()
    assert lock.acquire() is True
    assert lock.acquire() is True
    assert lock.locked() is True
    outcome: list[str] = []

    def other() -> None:
        try:
            lock.release()
        except RuntimeError as exc:
            outcome.append(type(exc).__name__)
        outcome.append(str(lock.acquire(blocking=False)))

    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert outcome == ["RuntimeError", "False"]
    lock.release()
    assert lock.locked() is True
    lock.release()
    assert lock.locked() is False


@given(n_producers=st.integers(1, 4), n_consumers=st.integers(1, 4), n_items=st.integers(0, 60))
def test_condition_producer_consumer_delivers_each_item_once(
    n_producers: int, n_consumers: int, n_items: int
) -> None:
    """Producers and consumers on a Condition(Lock()) hand over every item exactly once."""
    cond = tsg.Condition(tsg.Lock())
    queue: list[int] = []
    consumed: list[int] = []
    remaining = {"producers": n_producers}
    items = list(range(n_items))

    def worker(i: int) -> None:
        if i < n_producers:
            for item in items[i::n_producers]:
                with cond:
                    queue.append(item)
                    cond.notify()
            with cond:
                remaining["producers"] -= 1
                cond.notify_all()
            return
        while True:
            with cond:
                assert cond.wait_for(lambda: queue or not remaining["producers"], timeout=10)
                if not queue:
                    return
                consumed.append(queue.pop())

    run_on_barrier(n_producers + n_consumers, worker)
    assert Counter(items) == Counter(consumed)


def test_condition_over_rlock_waits_at_any_recursion_depth() -> None:
    """wait() on a Condition over our RLock releases every recursion level, like threading's."""
    cond = tsg.Condition(tsg.RLock())
    flag: list[bool] = []

    def setter() -> None:
        with cond:
            flag.append(True)
            cond.notify_all()

    with cond, cond:
        t = threading.Thread(target=setter)
        t.start()
        assert cond.wait_for(lambda: flag, timeout=10)
    t.join(10)
    assert flag == [True]


def test_semaphore_value_semantics() -> None:
    """Semaphore counts permits; BoundedSemaphore refuses a release beyond its initial value."""
    sem = tsg.Semaphore(2)
    assert [sem.acquire(blocking=False) for _ in range(3)] == [True, True, False]
    sem.release(2)
    sem.release()
    assert repr(sem) == "<threadsafe_gen.Semaphore value=3 initial=2>"
    bounded = tsg.BoundedSemaphore(2)
    bounded.acquire()
    bounded.release()
    with pytest.raises(ValueError, match="released too many times"):
        bounded.release()
    assert isinstance(bounded, threading.BoundedSemaphore)


def test_event_wait_set_clear() -> None:
    """Event.wait times out while clear and returns True once another thread sets it."""
    event = tsg.Event()
    assert event.wait(0.01) is False
    threading.Timer(0.05, event.set).start()
    assert event.wait(10) is True
    event.clear()
    assert event.is_set() is False


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (tsg.Lock, "<threadsafe_gen.Lock unlocked>"),
        (tsg.RLock, "<threadsafe_gen.RLock unlocked>"),
        (tsg.Event, "<threadsafe_gen.Event clear>"),
        (lambda: tsg.BoundedSemaphore(3), "<threadsafe_gen.BoundedSemaphore value=3 initial=3>"),
        (
            lambda: tsg.Condition(tsg.Lock()),
            "<threadsafe_gen.Condition lock=<threadsafe_gen.Lock unlocked> waiters=0>",
        ),
    ],
)
def test_repr_shows_type_and_state(factory: Any, expected: str) -> None:
    """repr names the threadsafe_gen type and its state."""
    assert expected == repr(factory())


def test_bad_arguments_are_explained() -> None:
    """A raw lock for Condition, a negative or non-int semaphore value raise clear errors."""
    raw = threading.Lock()
    with pytest.raises(TypeError) as info:
        tsg.Condition(raw)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"threadsafe_gen.Condition() expected a threadsafe_gen.Lock or RLock, got {raw!r} "
        f"(type=lock). A raw threading lock can be neither pickled nor re-created after fork. "
        f"Pass threadsafe_gen.Lock() or threadsafe_gen.RLock(), or nothing for a new RLock."
    )
    with pytest.raises(ValueError, match=r"expected a value >= 0, got value=-1"):
        tsg.Semaphore(-1)
    with pytest.raises(TypeError, match=r"got value='2' \(type=str\)"):
        tsg.BoundedSemaphore("2")  # type: ignore[arg-type]


# --- pickling in every state -----------------------------------------------------------


def roundtrip(obj: Any) -> Any:
    """Pickle and unpickle obj with the highest protocol."""
    return pickle.loads(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))


@given(held=st.booleans())
def test_lock_pickles_fresh_or_refuses_when_held(held: bool) -> None:
    """An unheld Lock pickles to a fresh unlocked Lock; a held one is refused."""
    lock = tsg.Lock()
    if held:
        lock.acquire()
        with pytest.raises(PicklingRefusedError, match=r"Lock cannot be pickled while it is held"):
            pickle.dumps(lock)
        lock.release()
    copy = roundtrip(lock)
    assert (type(lock), False) == (type(copy), copy.locked())
    assert copy._self_lock is not lock._self_lock


@given(depth=st.integers(0, 4))
def test_rlock_pickles_only_when_unheld_at_every_depth(depth: int) -> None:
    """An RLock held recursively (any depth > 0) refuses to pickle; unheld it round-trips."""
    lock = tsg.RLock()
    for _ in range(depth):
        lock.acquire()
    if depth:
        with pytest.raises(PicklingRefusedError, match=r"RLock cannot be pickled"):
            pickle.dumps(lock)
    else:
        assert roundtrip(lock).locked() is False
    for _ in range(depth):
        lock.release()


def test_rlock_held_by_another_thread_refuses_to_pickle() -> None:
    """An RLock owned by another thread is held too: pickling it from here is refused."""
    lock = tsg.RLock()
    held, done = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            held.set()
            done.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    try:
        with pytest.raises(PicklingRefusedError):
            pickle.dumps(lock)
    finally:
        done.set()
        t.join(10)


@given(
    bounded=st.booleans(),
    initial=st.integers(0, 4),
    acquired=st.integers(0, 4),
    extra=st.integers(0, 2),
)
def test_semaphore_pickles_initial_value_or_refuses_while_a_permit_is_held(
    bounded: bool, initial: int, acquired: int, extra: int
) -> None:
    """A semaphore with every permit back round-trips at its initial value; otherwise refused."""
    acquired = min(acquired, initial)
    extra = 0 if bounded else extra
    sem = tsg.BoundedSemaphore(initial) if bounded else tsg.Semaphore(initial)
    for _ in range(acquired):
        assert sem.acquire(blocking=False)
    if extra:
        sem.release(extra)
    if acquired > extra:
        with pytest.raises(
            PicklingRefusedError, match=rf"\({acquired - extra} of {initial} permits\)"
        ):
            pickle.dumps(sem)
        return
    copy = roundtrip(sem)
    expected = f"<threadsafe_gen.{type(sem).__name__} value={initial} initial={initial}>"
    assert expected == repr(copy)


@given(is_set=st.booleans())
def test_event_pickles_with_its_flag(is_set: bool) -> None:
    """An Event round-trips with the same flag, as a new independent Event."""
    event = tsg.Event()
    if is_set:
        event.set()
    copy = roundtrip(event)
    assert is_set == copy.is_set()
    copy.clear()
    assert is_set == event.is_set()


@given(reentrant=st.booleans(), held=st.booleans())
def test_condition_pickles_with_a_fresh_lock_of_the_same_kind(reentrant: bool, held: bool) -> None:
    """A Condition round-trips over a fresh lock of the same kind; refused while its lock is held."""
    lock = tsg.RLock() if reentrant else tsg.Lock()
    cond = tsg.Condition(lock)
    if held:
        with cond, pytest.raises(PicklingRefusedError, match="Condition cannot be pickled"):
            pickle.dumps(cond)
        return
    copy = roundtrip(cond)
    assert (type(lock), False) == (type(copy._self_lock), copy._self_lock.locked())
    with copy:
        assert copy.wait(0) is False


def test_shared_lock_stays_shared_after_pickling() -> None:
    """Objects pickled together that share one lock share one fresh lock afterwards."""
    lock = tsg.Lock()
    cond = tsg.Condition(lock)
    copy = roundtrip({"lock": lock, "cond": cond})
    assert copy["cond"]._self_lock is copy["lock"]
    with copy["cond"]:
        assert copy["lock"].locked() is True


def test_refusal_message_says_what_why_and_how() -> None:
    """The refusal names the type and state, why a copy is wrong, and how to avoid it."""
    lock = tsg.Lock()
    with lock, pytest.raises(PicklingRefusedError) as info:
        pickle.dumps(lock)
    assert str(info.value) == (
        "threadsafe_gen.Lock cannot be pickled while it is held (locked). "
        "A copy in another process would start free while this process still holds it, "
        "so the two would not exclude each other. "
        "Pickle it (or the loader holding it, e.g. when Keras starts spawn workers) only "
        "while no thread holds it: outside `with lock:` blocks."
    )
    assert isinstance(info.value, TypeError)


# --- process children ------------------------------------------------------------------


def exercise_in_child(prims: dict[str, Any]) -> dict[str, Any]:
    """Use every primitive received by pickling in a worker process and report what happened."""
    lock, rlock, cond = prims["lock"], prims["rlock"], prims["cond"]
    sem, event = prims["sem"], prims["event"]
    with lock:
        lock_locked = lock.locked()
    with rlock, rlock:
        rlock_locked = rlock.locked()
    with cond:
        cond_wait = cond.wait_for(lambda: True, timeout=1)
    sem_taken = [sem.acquire(blocking=False) for _ in range(3)]
    return {
        "types": sorted(type(p).__name__ for p in prims.values()),
        "lock": [lock_locked, lock.locked()],
        "rlock": [rlock_locked, rlock.locked()],
        "cond": cond_wait,
        "sem": sem_taken,
        "event": event.is_set(),
        "pid": os.getpid(),
    }


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_unpickled_in_a_fresh_process_gives_working_primitives(method: str) -> None:
    """spawn/forkserver workers receive fresh, working primitives (Semaphore at its initial value)."""
    prims: dict[str, Any] = {
        "lock": tsg.Lock(),
        "rlock": tsg.RLock(),
        "cond": tsg.Condition(),
        "sem": tsg.BoundedSemaphore(2),
        "event": tsg.Event(),
    }
    prims["event"].set()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as pool:
        result = pool.submit(exercise_in_child, prims).result(timeout=120)
    expected = {
        "types": ["BoundedSemaphore", "Condition", "Event", "Lock", "RLock"],
        "lock": [True, False],
        "rlock": [True, False],
        "cond": True,
        "sem": [True, True, False],
        "event": True,
    }
    assert os.getpid() != result.pop("pid")
    assert expected == result
    assert multiprocessing.active_children() == []


# The fork experiments run in a fresh interpreter: forking a pytest process that has threads
# is what we want to avoid in the test process itself, and a raw lock really hangs the child.
FORK_SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing, os, sys, threading, time
    import threadsafe_gen as tsg

    FACTORIES = {
        "threading.Lock": threading.Lock,
        "threading.RLock": threading.RLock,
        "Lock": tsg.Lock,
        "RLock": tsg.RLock,
        "Condition": tsg.Condition,
        "Semaphore": lambda: tsg.Semaphore(1),
        "BoundedSemaphore": lambda: tsg.BoundedSemaphore(1),
    }

    def child(lock):
        with lock:  # blocks forever if the lock came over held by a thread that is gone
            pass
        os._exit(0)

    ctx = multiprocessing.get_context("fork")
    results = {}
    for name in sys.argv[1:]:
        lock = FACTORIES[name]()
        held, done = threading.Event(), threading.Event()

        def holder():
            with lock:
                held.set()
                done.wait()

        t = threading.Thread(target=holder, daemon=True)
        t.start()
        held.wait()
        p = ctx.Process(target=child, args=(lock,))
        start = time.monotonic()
        p.start()
        p.join(3.0)
        if p.is_alive():
            p.kill()
            p.join()
            results[name] = "hung"
        else:
            results[name] = f"exit {p.exitcode} in {time.monotonic() - start:.2f}s"
        done.set()
        t.join()
    print(json.dumps(results))
    """
)


@pytest.mark.slow
def test_fork_while_another_thread_holds_the_lock() -> None:
    """A forked child acquires our locks at once; with raw threading locks the same child hangs."""
    kinds = [
        "threading.Lock",
        "threading.RLock",
        "Lock",
        "RLock",
        "Condition",
        "Semaphore",
        "BoundedSemaphore",
    ]
    out = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, *kinds],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results = json.loads(out.stdout)
    outcome = {name: results[name].split(" in ")[0] for name in kinds}
    expected = {name: "hung" if name.startswith("threading.") else "exit 0" for name in kinds}
    assert expected == outcome


UNWIND_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, traceback
    import threadsafe_gen as tsg

    lock, rlock, sem = tsg.Lock(), tsg.RLock(), tsg.BoundedSemaphore(2)
    cond, explicit = tsg.Condition(tsg.Lock()), tsg.RLock()
    report = []
    explicit.acquire()
    explicit.acquire()
    try:
        with lock, rlock, rlock, sem, cond:
            pid = os.fork()
            if pid == 0:
                report += [lock.locked(), rlock.locked(), cond._self_lock.locked()]
        if pid == 0:
            explicit.release()
            explicit.release()
            report += [lock.locked(), rlock.locked(), explicit.locked()]
            report.append(sem.acquire(blocking=False) and sem.acquire(blocking=False))
            with cond:
                report.append(cond.wait(0))
            print(json.dumps(report), flush=True)
    except BaseException:
        traceback.print_exc()
        if pid == 0:
            os._exit(1)
    if pid == 0:
        os._exit(0)
    print("child exit", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
    """
)


@pytest.mark.slow
def test_fork_inside_with_block_unwinds_in_the_child() -> None:
    """A child forked inside `with` blocks (and holding an RLock twice) unwinds them cleanly."""
    out = subprocess.run(
        [sys.executable, "-c", UNWIND_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert out.stderr == ""
    child_report, parent_line = out.stdout.splitlines()
    assert json.loads(child_report) == [False, False, False, False, False, False, True, False]
    assert parent_line == "child exit 0"
