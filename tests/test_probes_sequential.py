"""The sequential probe: clean loaders, exceptions, len(), thread-bound resources (TSG305, TSG601, TSG822)."""

from __future__ import annotations

from typing import Any

import loaders.basic as L
import numpy as np
import pytest
from helpers.probes import INPROCESS, assert_nothing_left, check, make_ctx, run_isolated
from helpers.probes import codes_of as by_code
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.random import RandomState

from threadsafe_gen import threadsafe_generator
from threadsafe_gen._probes._observe import NUMPY_GLOBAL
from threadsafe_gen._probes.sequential import fork_is_safe, probe_sequential
from threadsafe_gen._registry import Severity


@pytest.mark.parametrize(
    ("loader", "workers"),
    [
        (L.CleanSeq(), 4),
        (L.SleepySeq(), 4),
        (L.gen_infinite, 1),
        (threadsafe_generator(L.gen_infinite), 4),
    ],
)
def test_clean_loaders_have_no_findings(loader: Any, workers: int) -> None:
    """Pure sequences under threads, a generator with one worker or a @threadsafe_generator: nothing."""
    report = check(loader, workers=workers)
    assert set() == report.codes(), str(report)
    assert [p.status for p in report.probes] == ["ran"] * len(INPROCESS)


@settings(max_examples=12)
@given(st.integers(1, 12), st.integers(1, 4))
def test_any_pure_sequence_is_clean(n_batches: int, workers: int) -> None:
    """For any length and worker count, a pure sequence gets no finding from any in-process probe."""
    assert set() == check(L.CleanSeq(n_batches=n_batches), workers=workers).codes()


def test_sequential_results_are_stored_for_later_probes() -> None:
    """The sequential pass covers every index once (a spread when len > max_batches)."""
    report = check(L.CleanSeq(n_batches=100), max_batches=10, probes=["sequential"])
    assert report.settings["batches"] == 10
    assert "10 calls" in report.probes[0].note


# --- sequential: exceptions, len, other thread ------------------------------------------------------


def test_exception_becomes_tsg822_with_index_and_traceback() -> None:
    """RaisingSeq raises on index 3: TSG822 names loader[3], the message and the traceback."""
    report = check(L.RaisingSeq())
    (f,) = by_code(report, "TSG822")
    assert f.path == "loader[3]"
    assert "ValueError: boom at index 3" in f.message
    assert "raise ValueError" in f.details["traceback"]


def test_index_error_inside_len_is_tsg601() -> None:
    """len() says 9 but index 8 raises IndexError: TSG601 error at loader[8]."""
    report = check(L.LenTooLongSeq())
    (f,) = by_code(report, "TSG601")
    assert (f.path, f.severity) == ("loader[8]", Severity.ERROR)


def test_len_rounding_down_is_tsg601_warning() -> None:
    """60 samples, batches of 8, len 7: loader[7] still serves the last 4 samples."""
    report = check(L.FloorLenSeq())
    (f,) = by_code(report, "TSG601")
    assert (f.path, f.severity, f.details["rows_past_end"]) == ("loader[7]", Severity.WARNING, 4)


def test_full_batch_past_len_is_tsg601_info() -> None:
    """A full batch past len may be computed data (harmless) or lost samples: info."""
    report = check(L.LenTooShortSeq())
    (f,) = by_code(report, "TSG601")
    assert (f.path, f.severity) == ("loader[7]", Severity.INFO)


def test_lazy_thread_bound_connection_is_tsg305() -> None:
    """Opened lazily by Keras' first calls on the fit() thread, then used from another thread."""
    report = check(L.LazySqliteSeq(), workers=1, probes=["sequential"])
    assert [f.code for f in report.findings] == ["TSG305"]


def test_thread_bound_sqlite_is_tsg305_even_with_one_worker() -> None:
    """sqlite3 with check_same_thread fails from Keras' tf.data thread, even with workers=1."""
    report = check(L.SqliteSeq(), workers=1)
    (f,) = by_code(report, "TSG305")
    assert "SQLite objects created in a thread" in f.message
    assert "TSG822" not in report.codes()


def test_thread_bound_generator_is_tsg305() -> None:
    """A generator reading a connection made on this thread fails on Keras' tf.data thread."""
    import functools
    import sqlite3

    conn = sqlite3.connect(":memory:")
    try:
        report = check(functools.partial(L.gen_from_db, conn), probes=["sequential"])
    finally:
        conn.close()
    assert [f.code for f in report.findings] == ["TSG305"]


def test_iterator_object_consumption_is_noted() -> None:
    """An iterator object is consumed by the check, and the probe note says so."""
    report = check(L.gen_clean(), probes=["sequential"])
    assert report.probes[0].note.endswith("the iterator object was consumed by the check")


# --- a loader that fails fast, then blocks -------------------------------------------------------

FAILS_THEN_BLOCKS = """
import threading
import numpy as np

RELEASE = threading.Event()
KWARGS = {"timeout": 8.0, "batch_timeout": 1.0, "probes": PROBES}

class FailsThenBlocks:
    def __init__(self):
        self.calls = 0

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            self.calls += 1
            if self.calls > 1:
                RELEASE.wait()
            raise ValueError("index 2 is broken")
        return (np.full((2, 1), i, np.float32), np.zeros(2))

def make():
    return FailsThenBlocks()

def release(loader):
    RELEASE.set()
"""


@pytest.mark.slow
@pytest.mark.parametrize("probes", [["sequential"], None], ids=["sequential", "all"])
def test_loader_that_fails_then_blocks_is_bounded(tmp_path: Any, probes: Any) -> None:
    """loader[2] raises at once, then blocks when called again: the re-check on the thread
    that created the loader is bounded; TSG822 and TSG801, in time, and nothing left."""
    result = run_isolated(
        FAILS_THEN_BLOCKS.replace("PROBES", repr(probes)), tmp_path, hard_timeout=60
    )
    assert result["elapsed"] < 8.0 + 5.0
    assert ["TSG822", "loader[2]"] in result["findings"]
    assert "TSG801" in [code for code, _ in result["findings"]]
    assert_nothing_left(result)


# --- one root cause, one finding (issue 10 item 5) ----------------------------------------------------


class _NoLenSeq(L.CleanSeq):
    """len() raises, and the data ends at index 5 with IndexError."""

    def __init__(self) -> None:
        super().__init__(n_batches=5)

    def __len__(self) -> int:
        raise RuntimeError("no length yet")


def test_len_that_raises_probes_nothing_past_the_data() -> None:
    """The first IndexError ends the data: one TSG822 for len(), nothing probed past index 4."""
    report = check(_NoLenSeq(), max_batches=16)
    assert [(f.code, f.path) for f in report.findings] == [("TSG822", "len(loader)")]
    assert report.settings["batches"] == 5
    assert "loader[0] to loader[4]" in report.findings[0].message


def _raises_on_second_call() -> Any:
    """An infinite generator whose second record is truncated."""
    i = 0
    while True:
        if i == 1:
            msg = "record 2 is truncated"
            raise ValueError(msg)
        yield L.batch_for(i)
        i += 1


def test_generator_that_raised_is_not_also_a_finite_generator() -> None:
    """An infinite generator raising on call 2: one TSG822 at #1, no TSG603 'stopped'."""
    report = check(_raises_on_second_call, workers=1)
    assert [(f.code, f.path) for f in report.findings] == [("TSG822", "next(loader) #1")]


# --- what the canary observes of each call (issue 10 items 4, 9, 18) ----------------------------------

needs_fork = pytest.mark.skipif(not fork_is_safe(), reason="the canary needs a safe fork")


class _Observed(L.CleanSeq):
    """Draws from numpy's global RNG, creates an RNG seeded by the index, assigns self.last."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = np.random.default_rng(0)  # used by on_epoch_end only
        self.last = -1

    def __getitem__(self, index: int) -> Any:
        x, y = super().__getitem__(index)
        noise = np.random.normal(size=x.shape) * RandomState(index).rand()
        self.last = index
        return x + noise.astype(np.float32), y

    def on_epoch_end(self) -> None:
        self.rng.shuffle(np.arange(4))


def _observe(loader: Any) -> Any:
    ctx = make_ctx(loader, use_multiprocessing=False, workers=1)
    probe_sequential(ctx)
    return ctx.state.observed


@needs_fork
def test_canary_observes_draws_seeds_and_writes() -> None:
    """Per call: the RNGs drawn from, the seeded RNGs created, the attributes assigned; the
    caller's numpy is not patched (the canary is a forked child)."""
    observed = _observe(_Observed())
    assert observed.drew == {NUMPY_GLOBAL}
    assert observed.seeded[:2] == ["numpy.random.RandomState(0)", "numpy.random.RandomState(1)"]
    assert observed.written(after_peek=False) == {"last"}
    assert observed.written(after_peek=True) == {"last"}
    assert np.random.RandomState is RandomState


@needs_fork
def test_a_cursor_draws_no_random_numbers() -> None:
    """A cursor's results differ between calls, yet it draws nothing: not random (item 4)."""
    observed = _observe(L.CursorSeq(gap=0.0))
    assert (observed.random, observed.written(after_peek=True)) == (False, {"cursor"})


class _DropLastShuffled(L.FloorLenSeq):
    """Floors like FloorLenSeq, but reshuffles every epoch: the dropped 4 samples change."""

    def __init__(self) -> None:
        super().__init__()
        self.order = np.arange(len(self.x))

    def __getitem__(self, index: int) -> Any:
        x = self.x[self.order[index * L.BS : (index + 1) * L.BS]]
        return x, x[:, 0]

    def on_epoch_end(self) -> None:
        self.order = np.random.default_rng(len(self.order)).permutation(self.order)


@needs_fork
def test_floor_that_drops_a_reshuffled_remainder_is_drop_last() -> None:
    """The partial batch past len() holds other samples after on_epoch_end: every sample is
    trained on over the epochs, as with drop_remainder=True. No TSG601."""
    loader = _DropLastShuffled()
    before = loader.order.copy()
    assert by_code(check(loader), "TSG601") == []
    assert (loader.order == before).all()  # on_epoch_end ran in a forked child only
