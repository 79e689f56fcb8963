"""threadsafe_gen.testing: Hypothesis strategies and the property helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import threadsafe_gen
from threadsafe_gen.testing import (
    Schedule,
    assert_exactly_once,
    assert_pure_getitem,
    index_orders,
    schedules,
    worker_counts,
)


class Pure:
    """loader[i] depends only on i."""

    def __len__(self) -> int:
        return 6

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return np.arange(3.0) + 10 * i, np.full(1, i)


class Cursor(Pure):
    """The classic bug: a cursor on self instead of the index."""

    def __init__(self) -> None:
        self.cursor = 0

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.cursor
        self.cursor += 1
        return np.arange(3.0) + 10 * c, np.full(1, c)


class SharedBuffer(Pure):
    """Returns one reused buffer: every result aliases the last one written."""

    def __init__(self) -> None:
        self.buf = np.zeros(3)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        self.buf[:] = np.arange(3.0) + 10 * i
        return self.buf


class ThreadBound(Pure):
    """Works only on the thread that built it, like a sqlite3 connection."""

    def __init__(self) -> None:
        self.owner = threading.get_ident()

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if threading.get_ident() != self.owner:
            raise RuntimeError("objects created in a thread can only be used in that same thread")
        return super().__getitem__(i)


def test_pure_loader_passes() -> None:
    """A pure loader passes every schedule."""
    assert assert_pure_getitem(Pure, max_examples=30) >= 1


def test_stateful_loader_fails_with_minimal_readable_schedule() -> None:
    """A cursor loader fails, shrunk to one call, with both results and the schedule shown."""
    with pytest.raises(AssertionError) as info:
        assert_pure_getitem(Cursor, max_examples=50)
    text = str(info.value)
    assert (
        text.splitlines()[0]
        == "loader[0] is not a pure function of its index: in epoch 0, worker 0 got"
    )
    assert (
        "Schedule(workers=1, epochs=1), calls in order:\n  epoch 0: worker 0 -> loader[0]\n" in text
    )


def test_reused_buffer_fails() -> None:
    """Results that alias one buffer differ from the reference once the schedule has finished."""
    with pytest.raises(AssertionError, match="is not a pure function of its index"):
        assert_pure_getitem(SharedBuffer, max_examples=50)


def test_thread_bound_loader_fails_on_another_thread() -> None:
    """Calls really run on other threads: a thread-bound loader raises there."""
    with pytest.raises(AssertionError, match="can only be used in that same thread"):
        assert_pure_getitem(ThreadBound, max_examples=20)


def test_loader_instance_is_accepted() -> None:
    """A loader object (not a factory) is used directly."""
    assert assert_pure_getitem(Pure(), max_examples=10) >= 1


def test_wrong_argument_is_a_clear_type_error() -> None:
    """A non-loader, non-callable argument names what was expected."""
    with pytest.raises(TypeError, match=r"expected a loader \(with __getitem__ and __len__\)"):
        assert_pure_getitem(42, max_examples=1)


def items() -> Iterator[int]:
    """A plain generator of 200 ints."""
    yield from range(200)


def test_locked_iterator_delivers_exactly_once() -> None:
    """threadsafe_iter hands every item to exactly one thread, for any thread count and pace."""
    runs = assert_exactly_once(lambda: threadsafe_gen.threadsafe_iter(items()), max_examples=20)
    assert runs >= 3


def reading_items() -> Iterator[int]:
    """200 ints, releasing the GIL inside the generator's frame, as reading a file does (a
    race on `yield from range(200)` alone depends on luck: one CI run of 150 saw none)."""
    for i in range(200):
        time.sleep(0)
        yield i


def test_plain_generator_fails_exactly_once() -> None:
    """A shared plain generator fails with 'generator already executing', reported readably."""
    with pytest.raises(AssertionError) as info:
        assert_exactly_once(reading_items, max_examples=30, repeats=5)
    assert "ValueError: generator already executing" in str(info.value)
    assert "threads sharing one iterator" in str(info.value)


def test_unlocked_iterator_class_loses_or_duplicates() -> None:
    """An iterator class with a racy read-modify-write cursor duplicates or loses items."""

    class Racy:
        def __init__(self) -> None:
            self.i = 0

        def __iter__(self) -> Racy:
            return self

        def __next__(self) -> int:
            i = self.i
            if i >= 100:
                raise StopIteration
            threading.Event().wait(0)  # a switch point between read and write
            self.i = i + 1
            return i

    with pytest.raises(AssertionError, match=r"duplicated, \d+ missing"):
        assert_exactly_once(Racy, max_examples=30, repeats=5)


@given(schedules(5, max_workers=3, max_epochs=2, full_epochs=True))
@settings(max_examples=30)
def test_full_epoch_schedules_call_each_index_once(schedule: Schedule) -> None:
    """With full_epochs every epoch is a permutation and workers are in range."""
    for epoch in range(schedule.epochs):
        assert sorted(i for e, _, i in schedule.calls if e == epoch) == list(range(5))
    assert all(0 <= w < schedule.workers <= 3 for _, w, _ in schedule.calls)


@given(index_orders(4, full=False), worker_counts(3))
def test_strategies_stay_in_bounds(order: list[int], workers: int) -> None:
    """index_orders and worker_counts stay within their bounds."""
    assert (all(0 <= i < 4 for i in order), 1 <= workers <= 3) == (True, True)


def test_schedule_str_is_readable() -> None:
    """A schedule prints one call per line."""
    s = Schedule(2, ((0, 1, 3), (1, 0, 0)))
    assert str(s) == (
        "Schedule(workers=2, epochs=2), calls in order:\n"
        "  epoch 0: worker 1 -> loader[3]\n"
        "  epoch 1: worker 0 -> loader[0]"
    )


@pytest.mark.parametrize(("func", "arg"), [(worker_counts, 0), (index_orders, 0)])
def test_strategy_arguments_are_validated(func: object, arg: int) -> None:
    """Out-of-range strategy arguments raise ValueError."""
    with pytest.raises(ValueError, match=">= 1"):
        func(arg)  # type: ignore[operator]


def test_strategies_draw_examples() -> None:
    """The strategies produce values with st.data-style draws."""

    @given(st.data())
    @settings(max_examples=5)
    def inner(data: st.DataObject) -> None:
        schedule = data.draw(schedules(3))
        assert schedule.workers >= 1

    inner()
