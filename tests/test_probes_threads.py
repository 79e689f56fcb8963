"""The order and threads probes: cursors, concurrency, shared iterators, serialising locks (TSG301, TSG302, TSG306, TSG701)."""

from __future__ import annotations

import functools
import threading
from typing import Any

import loaders.basic as L
import numpy as np
import pytest
from helpers.probes import assert_nothing_left, check, run_isolated
from helpers.probes import codes_of as by_code
from hypothesis import given, settings
from hypothesis import strategies as st

from threadsafe_gen import threadsafe_generator
from threadsafe_gen._probes._race import RACES_PROVOKABLE, provoke
from threadsafe_gen._probes.sequential import fork_is_safe
from threadsafe_gen._registry import Severity


def test_cursor_is_tsg301_error_with_workers() -> None:
    """A cursor that ignores the index gives other samples when called in another order."""
    report = check(L.CursorSeq(), workers=4)
    (f,) = by_code(report, "TSG301")
    assert f.severity == Severity.ERROR
    assert "TSG401" in report.codes()


@settings(max_examples=10)
@given(st.integers(3, 12))
def test_any_cursor_is_found_without_threads(n_batches: int) -> None:
    """For any length >= 3, a cursor that ignores the index is order-dependent (TSG301)."""
    report = check(L.CursorSeq(n_batches, gap=0.0), probes=["order"])
    assert "TSG301" in report.codes()


def test_cursor_is_tsg301_warning_with_one_worker() -> None:
    """With workers=1 the cursor works now, so the order dependence is a warning."""
    (f,) = by_code(check(L.CursorSeq(), workers=1, probes=["order"]), "TSG301")
    assert f.severity == Severity.WARNING


def test_random_loader_is_not_order_dependent() -> None:
    """Fresh noise per call is random by design: no TSG301, and the order probe says why."""
    report = check(L.RandomSeq(), workers=4)
    assert "TSG301" not in report.codes()
    assert "random by design" in next(p.note for p in report.probes if p.name == "order")


@pytest.mark.parametrize("loader", [L.SamplingSeq(), L.gen_shuffled])
def test_random_sampling_and_shuffling_are_not_order_dependent(loader: Any) -> None:
    """Sampling rows per call, or a generator that reshuffles per call: random, not a cursor."""
    report = check(loader, probes=["order"])
    assert "TSG301" not in report.codes()
    assert "random by design" in report.probes[-1].note


def test_row_buffer_race_is_found_by_threads() -> None:
    """A shared buffer filled row by row then copied: results differ only under threads."""
    report = check(L.RowBufferSeq(), workers=4, probes=["threads"])
    assert "TSG301" in report.codes()


def test_generator_entered_concurrently_is_tsg306() -> None:
    """A generator that waits inside raises 'generator already executing' from 4 threads."""
    (f,) = by_code(check(L.gen_sleepy, workers=4, probes=["threads"]), "TSG306")
    assert "generator already executing" in f.message


def test_generator_object_entered_concurrently_is_tsg306() -> None:
    """A one-shot generator object: a few items for the sequential pass, the rest to 4 threads."""
    report = check(L.gen_sleepy(), workers=4, probes=["threads"])
    assert "TSG306" in report.codes()


def test_threadsafe_generator_is_clean_under_threads() -> None:
    """The same generator decorated with @threadsafe_generator gives no thread finding."""
    safe = threadsafe_generator(L.gen_sleepy)
    report = check(safe, workers=4, probes=["threads"])
    assert set() == report.codes() & {"TSG301", "TSG302", "TSG306"}


def test_unstarted_threadsafe_generator_call_is_copied_not_consumed() -> None:
    """An unstarted @threadsafe_generator call pickles, so the check runs copies of it."""
    call = L.safe_sleepy()
    report = check(call, workers=4)
    assert report.codes() == {"TSG603"}
    assert len(list(call)) == 8


@pytest.mark.parametrize("threadsafe", [True, False])
def test_iterators_sharing_a_cursor_split_the_data(threadsafe: bool) -> None:
    """Separate iterators of one generator function that share a cursor: TSG301 (6.4)."""
    loader = L.safe_shared_cursor if threadsafe else L.gen_shared_cursor
    report = check(loader, workers=4, probes=["threads"])
    (f,) = [f for f in by_code(report, "TSG301") if "iterators of the generator" in f.message]
    assert f.details["iterators"] == 4
    assert f.details["differed"] >= 2
    assert f.details["missing"] > 0
    # one iterator alone, or no worker threads planned: nothing to report
    assert "TSG301" not in check(loader, workers=1).codes()
    assert ("TSG306" in report.codes()) is not threadsafe


def test_racy_iterator_object_loses_batches_silently() -> None:
    """An iterator class without a lock: 4 threads receive duplicated and missing batches."""
    report = check(L.RacyIterator(), workers=4, probes=["threads"])
    (f,) = by_code(report, "TSG306")
    assert f.details["duplicates"] > 0


def test_threads_only_exceptions_are_tsg302() -> None:
    """An exception that only concurrency triggers is TSG302, naming the exception."""

    class Reentrant(L.SleepySeq):
        inside = threading.local()  # per thread: sequential calls never see a peer

        def __init__(self) -> None:
            super().__init__()
            self.busy = 0

        def __getitem__(self, index: int) -> Any:
            self.busy += 1
            try:
                if self.busy > 1:
                    raise RuntimeError("called while another call was running")
                return super().__getitem__(index)
            finally:
                self.busy -= 1

    (f,) = by_code(check(Reentrant(), workers=4, probes=["threads"]), "TSG302")
    assert "RuntimeError: called while another call was running" in f.message


def test_lock_around_getitem_is_tsg701() -> None:
    """A lock held around the whole call: seen held while 4 threads call, and named."""
    report = check(L.LockedSeq(), workers=4, probes=["threads"])
    (f,) = by_code(report, "TSG701")
    assert f.path == "loader.lock"
    assert f.details["held_fraction"]["lock"] >= 0.8


def test_hidden_lock_is_tsg701_by_timing() -> None:
    """A module-level lock: no lock to name, but calls that wait do not overlap."""
    report = check(L.GlobalLockSeq(), workers=4, probes=["threads"])
    (f,) = by_code(report, "TSG701")
    assert (f.path, f.details["held_fraction"]) == ("loader", {})


def test_lock_around_a_small_part_is_not_tsg701() -> None:
    """A lock around a short shared step only is not a serialised __getitem__."""
    report = check(L.PartialLockSeq(), workers=4, probes=["threads"])
    assert "TSG701" not in report.codes()


def test_sleepy_loader_overlaps_and_is_not_tsg701() -> None:
    """The same work without the lock overlaps across threads: no TSG701."""
    report = check(L.SleepySeq(), workers=4, probes=["threads"])
    assert "TSG701" not in report.codes()
    assert "speed-up" in next(p.note for p in report.probes if p.name == "threads")


def test_switchinterval_is_restored() -> None:
    """The threads probe forces frequent switches and restores the interval afterwards."""
    import sys

    before = sys.getswitchinterval()
    check(L.SleepySeq(), workers=2, probes=["threads"])
    assert before == sys.getswitchinterval()


# --- huge exception messages --------------------------------------------------------------------

HUGE_ERRORS = """
import itertools
KWARGS = {"workers": 4, "timeout": 20.0, "probes": PROBES}

_count = itertools.count()

class HugeErrors:
    def __len__(self):
        return 64

    def __getitem__(self, i):
        raise ValueError(f"call {next(_count)}: " + "x" * 700_000)

def make():
    return HugeErrors()

def release(loader):
    pass
"""


@pytest.mark.slow
def test_huge_exception_messages_cost_bounded_memory(tmp_path: Any) -> None:
    """A 0.7 M-character message on each of the threads probe's ~500 calls: only a bounded
    number of distinct errors is kept, each cut, so memory stays small (it took 1.9 GB)."""
    case = HUGE_ERRORS.replace("PROBES", repr(["sequential", "order", "threads", "duplicates"]))
    result = run_isolated(case, tmp_path, hard_timeout=90)
    assert result["elapsed"] < 20.0 + 5.0
    assert "TSG822" in [code for code, _ in result["findings"]]
    assert result["rss_mib"] < 64
    assert_nothing_left(result)


# --- races provoked on purpose (issue 10 item 19) -----------------------------------------------------

needs_provoking = pytest.mark.skipif(
    not RACES_PROVOKABLE,
    reason="Python 3.10 crashes resuming a traced generator from another thread",
)


def _fast_unlocked() -> Any:
    """An endless generator with nothing inside to wait on: threads rarely collide by luck."""
    i = 0
    while True:
        yield L.batch_for(i % 8)
        i += 1


@needs_provoking
def test_unlocked_generator_is_found_on_every_run() -> None:
    """2 threads, a generator that never waits: TSG306 every time, provoked on purpose."""
    for _ in range(5):
        (f,) = by_code(check(_fast_unlocked, workers=2, probes=["threads"]), "TSG306")
        assert "provoked on purpose" in f.message


class _SharedGeneratorSeq(L.CleanSeq):
    """__getitem__ ignores its index and serves next(self.it) from one generator."""

    def __init__(self) -> None:
        super().__init__()
        self.it = _fast_unlocked()

    def __getitem__(self, index: int) -> Any:
        return next(self.it)


@needs_provoking
def test_sequence_sharing_a_generator_raises_under_threads_every_run() -> None:
    """loader[j] while loader[i] is paused inside self.it: TSG302 'generator already executing'."""
    for _ in range(3):
        (f,) = by_code(check(_SharedGeneratorSeq(), workers=2, probes=["threads"]), "TSG302")
        assert "generator already executing" in f.message
        assert "_fast_unlocked" in f.message


@needs_provoking
def test_a_lock_around_the_generator_makes_the_second_call_wait() -> None:
    """provoke(): a locked generator blocks the second call (safe); an unlocked one raises."""
    lock = threading.Lock()
    it = _fast_unlocked()
    next(it)

    def locked() -> Any:
        with lock:
            return next(it)

    assert [p.outcome for p in provoke(locked, locked, wait=0.1, timeout=5.0) or []] == ["blocked"]
    (raised,) = (
        provoke(functools.partial(next, it), functools.partial(next, it), wait=0.1, timeout=5.0)
        or []
    )
    assert (raised.outcome, str(raised.error)) == ("raised", "generator already executing")


@needs_provoking
def test_generators_a_call_creates_are_not_held() -> None:
    """A generator made and used within one call is never paused: nothing to provoke."""

    def local() -> int:
        return sum(x for x in range(100))

    assert provoke(local, local, wait=0.1, timeout=5.0) == []


class _DrawsSometimesEqual(L.CleanSeq):
    """Draws a size from numpy's global RNG each call; two draws often agree."""

    def __getitem__(self, index: int) -> Any:
        x, y = super().__getitem__(index)
        return np.resize(x, (len(x), int(np.random.choice([4, 4, 6])))), y


@pytest.mark.skipif(not fork_is_safe(), reason="the canary needs a safe fork")
def test_a_loader_seen_drawing_random_numbers_is_never_compared_exactly() -> None:
    """Random by design, known from the draws the canary saw, not from results that happened
    to differ: no TSG301 whichever values came out (issue 10 items 4 and 9)."""
    for _ in range(4):
        report = check(_DrawsSometimesEqual(), workers=4)
        assert "TSG301" not in report.codes()
        assert "random by design" in next(p.note for p in report.probes if p.name == "order")
