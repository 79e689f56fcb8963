"""The reference suites we match, ported to threadsafe_iter / @threadsafe_generator.

- more-itertools' ``TestSerialize`` and ``TestSynchronized`` (tests/test_more.py, 11.x):
  ``serialize`` is ``threadsafe_iter``, ``synchronized`` is ``threadsafe_generator``.
- CPython's free-threading tests of the lock wrapper that became 3.15's
  ``threading.serialize_iterator`` (Lib/test/test_free_threading/test_itertools_serialize.py,
  test_threading_iter_locked.py), and the example of its documentation.

Assertions are the originals'; only the names of the wrapper (and of its private attributes,
in the locking test) are ours. Where threadsafe_iter deliberately differs (sticky errors,
re-entry, pickling) the tests are in test_iterators.py and test_iterators_hostile.py, and
docs/how-to/thread-safe-generators.md says why.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from threadsafe_gen import threadsafe_generator, threadsafe_iter

# --- more-itertools: TestSerialize ------------------------------------------------------------


def test_more_itertools_concurrent_calls() -> None:
    """10 threads summing one shared generator of range(10**6) see every value once."""
    result = 0
    result_lock = threading.Lock()

    def producer(limit: int) -> Iterator[int]:
        "Non-concurrent producer. A generator version of range(limit)."
        yield from range(limit)

    def consumer(counter: Iterable[int]) -> None:
        "Concurrent data consumer"
        nonlocal result
        total = 0
        for x in counter:
            total += x
        with result_lock:
            result += total

    limit = 10**6
    counter = threadsafe_iter(producer(limit))
    workers = [threading.Thread(target=consumer, args=[counter]) for _ in range(10)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert result == limit * (limit - 1) // 2


def test_more_itertools_serialize_generator_methods() -> None:
    """next, send, throw and close reach the wrapped generator."""

    def echo() -> Iterator[str]:
        try:
            while True:
                val = yield "ready"
                yield f"received {val}"
        except ValueError:
            yield "caught"

    it = threadsafe_iter(echo())
    assert next(it) == "ready"
    assert it.send("hello") == "received hello"
    assert next(it) == "ready"
    assert it.throw(ValueError) == "caught"
    it.close()
    with pytest.raises(StopIteration):
        next(it)


def test_more_itertools_serialize_methods_attribute_error() -> None:
    """A plain iterator has no send/throw/close: AttributeError, as in serialize."""
    standard_it = threadsafe_iter([1, 2, 3])
    with pytest.raises(AttributeError):
        standard_it.send("foo")
    with pytest.raises(AttributeError):
        standard_it.throw(ValueError)
    with pytest.raises(AttributeError):
        standard_it.close()


def test_more_itertools_serialize_generator_methods_locking() -> None:
    """send/throw/close run with the wrapper's lock held."""

    class LockCheckingGenerator:
        def __init__(self) -> None:
            self.lock: Any = None

        def __iter__(self) -> LockCheckingGenerator:
            return self

        def __next__(self) -> Any:
            raise StopIteration

        def send(self, value: Any) -> Any:
            if not self.lock.locked():
                raise RuntimeError("Lock not held during send()")
            return value

        def throw(self, *args: Any) -> None:
            if not self.lock.locked():
                raise RuntimeError("Lock not held during throw()")

        def close(self) -> None:
            if not self.lock.locked():
                raise RuntimeError("Lock not held during close()")

    # serialize's test swaps the wrapped iterator in; ours wraps the mock and hands it the lock.
    mock_gen = LockCheckingGenerator()
    it = threadsafe_iter(mock_gen)
    mock_gen.lock = it._lock
    it.send(1)
    it.throw(ValueError)
    it.close()


# --- more-itertools: TestSynchronized ---------------------------------------------------------


def test_more_itertools_synchronized_concurrent_calls() -> None:
    """Each decorated call is serialised: 5 threads x 100 next() per call count to 500."""
    unique = 10  # Number of distinct counters
    repetitions = 5  # Number of times each counter is used
    limit = 100  # Calls per counter per repetition

    @threadsafe_generator
    def atomic_counter() -> Iterator[int]:
        # This is a generator so that non-concurrent calls are detectable.
        # To make calls while running more likely, this code uses random
        # time delays.
        i = 0
        while True:
            yield i
            next_i = i + 1
            time.sleep(random.random() / 1000)
            i = next_i

    def consumer(counter: Iterator[int]) -> None:
        for _ in range(limit):
            next(counter)

    unique_counters = [atomic_counter() for _ in range(unique)]
    counters = unique_counters * repetitions
    workers = [threading.Thread(target=consumer, args=[counter]) for counter in counters]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert {next(counter) for counter in unique_counters} == {limit * repetitions}


# --- CPython: the serialize / iter_locked free-threading tests -------------------------------


class non_atomic_iterator:  # the original's name
    """Two next() calls per item: interleaved callers would split a pair."""

    def __init__(self, it: Iterable[int]) -> None:
        self.it = iter(it)

    def __iter__(self) -> non_atomic_iterator:
        return self

    def __next__(self) -> tuple[int, int]:
        a = next(self.it)
        b = next(self.it)
        return a, b


def count() -> Iterator[int]:
    """1, 2, 3, ... for ever."""
    i = 0
    while True:
        i += 1
        yield i


def _start_and_join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_cpython_serialize() -> None:
    """10 threads never see a split pair of a non-atomic iterator (10 rounds)."""
    number_of_threads = 10
    number_of_iterations = 10
    failures: list[str] = []

    def work(it: Iterator[tuple[int, int]]) -> None:
        while True:
            try:
                a, b = next(it)
                if a + 1 != b:
                    failures.append(f"{a}, {b}")
            except StopIteration:
                break

    data = tuple(range(400))
    for _ in range(number_of_iterations):
        serialize_iterator = threadsafe_iter(non_atomic_iterator(data))
        _start_and_join(
            [
                threading.Thread(target=work, args=[serialize_iterator])
                for _ in range(number_of_threads)
            ]
        )
    assert failures == []


def test_cpython_serialize_generator() -> None:
    """5 threads pulling 1,000 items each from an endless generator, started on a barrier."""
    number_of_threads = 5
    number_of_iterations = 4
    barrier = threading.Barrier(number_of_threads)
    seen: list[int] = []
    seen_lock = threading.Lock()

    def work(it: Iterator[int]) -> None:
        barrier.wait()
        mine = []
        for _ in range(1_000):
            try:
                mine.append(next(it))
            except StopIteration:
                break
        with seen_lock:
            seen.extend(mine)

    for _ in range(number_of_iterations):
        seen.clear()
        generator = threadsafe_iter(count())
        _start_and_join(
            [threading.Thread(target=work, args=[generator]) for _ in range(number_of_threads)]
        )
        barrier.reset()
        # Not in the original (it only checks for crashes): every value exactly once.
        assert sorted(seen) == list(range(1, 5_001))


def test_cpython_docs_example_squares() -> None:
    """The 3.15 documentation's example: two threads share squares(5); each value once."""

    def squares(n: int) -> Iterator[int]:
        for x in range(n):
            yield x * x

    printed: list[tuple[str, int]] = []

    def consume(name: str, iterable: Iterable[int]) -> None:
        for item in iterable:
            printed.append((name, item))

    source = threadsafe_iter(squares(5))
    t1 = threading.Thread(target=consume, args=("left", source))
    t2 = threading.Thread(target=consume, args=("right", source))
    t1.start()
    t2.start()
    t1.join()
    t2.join()
    assert sorted(item for _, item in printed) == [0, 1, 4, 9, 16]
