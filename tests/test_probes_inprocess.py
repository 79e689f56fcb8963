"""In-process probes of check_loader(): sequential, structure, state, resources, order, threads, duplicates."""

from __future__ import annotations

import threading
from typing import Any

import loaders as L
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadsafe_gen import check_loader, threadsafe_generator
from threadsafe_gen._findings import LoaderReport, Severity
from threadsafe_gen._probes._batches import InvalidBatchError, batch_info, standardize_batch

INPROCESS = ["sequential", "structure", "state", "resources", "order", "threads", "duplicates"]


def check(loader: Any, **kwargs: Any) -> LoaderReport:
    """check_loader limited to the in-process probes (fast: no child processes but the canary)."""
    kwargs.setdefault("probes", INPROCESS)
    kwargs.setdefault("timeout", 30.0)
    return check_loader(loader, **kwargs)


def by_code(report: LoaderReport, code: str) -> list[Any]:
    """The findings of one code."""
    return [f for f in report.findings if f.code == code]


# --- _batches -------------------------------------------------------------------------------------


def test_batch_info_fingerprints_equal_for_equal_batches() -> None:
    """Equal batches have equal fingerprints and row digests; one changed value changes both."""
    a = batch_info(L.batch_for(2))
    b = batch_info(L.batch_for(2))
    x, y = L.batch_for(2)
    x[3, 1] += 1
    c = batch_info((x, y))
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    assert [i for i, (r, s) in enumerate(zip(a.rows, c.rows, strict=True)) if r != s] == [3]


def test_standardize_batch_follows_keras_rules() -> None:
    """An array becomes (x,), a list a tuple, a dict stays; a 4-tuple and a string are rejected."""
    x = np.zeros((2, 3))
    assert len(standardize_batch(x)) == 1
    assert isinstance(standardize_batch([x, x]), tuple)
    assert isinstance(standardize_batch({"a": x}), dict)
    with pytest.raises(InvalidBatchError, match="got a tuple of 4 elements"):
        standardize_batch((x, x, x, x))
    with pytest.raises(InvalidBatchError, match="type=str"):
        standardize_batch("batch")


def test_batch_info_rejects_unequal_first_dimensions() -> None:
    """x with 8 rows and y with 7 is what Keras rejects; the message names both."""
    with pytest.raises(InvalidBatchError, match=r"x: 8, y: 7"):
        batch_info((np.zeros((8, 2)), np.zeros(7)))


def test_batch_info_nested_structure_and_weights() -> None:
    """Dict inputs, a list of labels and sample weights: rows use x and y, not the weights."""
    x = {"image": np.zeros((3, 2, 2)), "meta": np.arange(3.0)}
    info = batch_info((x, [0, 1, 2], np.ones(3)))
    other_weights = batch_info((x, [0, 1, 2], np.zeros(3)))
    assert info.n_rows == 3
    assert [p for p, *_ in info.leaves] == ["x['image']", "x['meta']", "y", "sample_weight"]
    assert info.rows == other_weights.rows
    assert info.fingerprint != other_weights.fingerprint


class Sparse:
    """Stands for a sparse tensor: numpy cannot convert it to rows."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Sparse({self.n})"


def test_opaque_leaves_are_compared_by_repr_not_rejected() -> None:
    """A leaf numpy cannot convert is opaque: not invalid, and its repr is fingerprinted."""
    a = batch_info((Sparse(1), np.zeros(3)))
    b = batch_info((Sparse(2), np.zeros(3)))
    assert (a.n_rows, a.structure) == (3, "(opaque test_probes_inprocess.Sparse, array)")
    assert a.fingerprint != b.fingerprint


@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 1000))
def test_row_digests_detect_exactly_the_duplicated_rows(n: int, k: int, seed: int) -> None:
    """For any batch where row j copies row i, the row digests are equal exactly there."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + 1, k))
    x[n] = x[0]
    rows = batch_info((x,)).rows
    equal_pairs = {(i, j) for i in range(n + 1) for j in range(i + 1, n + 1) if rows[i] == rows[j]}
    assert equal_pairs == {(0, n)}


# --- clean loaders ---------------------------------------------------------------------------------


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


# --- structure -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loader", "code", "path"),
    [
        (L.EmptyLastSeq(), "TSG602", "loader[8]"),
        (L.DtypeChangeSeq(), "TSG622", "loader[5]"),
        (L.ShapeChangeSeq(), "TSG623", "loader[5]"),
        (L.StructureChangeSeq(), "TSG621", "loader[5]"),
        (L.InvalidBatchSeq(), "TSG624", "loader[0]"),
    ],
)
def test_structure_findings(loader: Any, code: str, path: str) -> None:
    """Each structure problem is reported once, at the first batch that shows it."""
    report = check(loader, probes=["structure"])
    assert [path] == [f.path for f in by_code(report, code)]


def test_finite_generator_is_tsg603_and_infinite_is_bounded() -> None:
    """A finite generator of 8 batches is reported; an infinite one stops at max_batches."""
    finite = check(L.gen_clean, probes=["structure"])
    infinite = check(L.gen_infinite, probes=["structure"], max_batches=16)
    (f,) = by_code(finite, "TSG603")
    assert f.details["batches"] == 8
    assert "TSG603" not in infinite.codes()
    assert "16 calls" in infinite.probes[0].note


def test_empty_loaders_are_reported() -> None:
    """len() 0, or an exhausted generator object: nothing to train on, said plainly."""
    empty_seq = check(L.CleanSeq(n_batches=0), probes=["structure"])
    spent = L.gen_clean()
    list(spent)
    empty_gen = check(spent, probes=["structure"])
    assert [(f.code, f.path) for f in empty_seq.findings] == [("TSG601", "loader")]
    (f,) = empty_gen.findings
    assert (f.code, f.details["batches"]) == ("TSG603", 0)
    assert "exhausted generator object" in f.message


# --- state -----------------------------------------------------------------------------------------


def test_mutation_is_tsg303_warning() -> None:
    """__getitem__ assigning self.last_index is reported with the attribute path."""
    (f,) = by_code(check(L.MutatingSeq(), probes=["state"]), "TSG303")
    assert (f.path, f.severity) == ("loader.last_index", Severity.WARNING)


def test_lazy_initialisation_is_tsg303_info() -> None:
    """A table built on the first call (None -> array) is info, not a warning."""
    (f,) = by_code(check(L.LazyInitSeq(), probes=["state"]), "TSG303")
    assert (f.path, f.severity) == ("loader.table", Severity.INFO)


def test_lazy_pid_keyed_resource_is_info() -> None:
    """Attributes set by the first call and then stable (a -1 pid sentinel) are lazy: info."""
    (f,) = by_code(check(L.LazyPidSeq(), probes=["state"]), "TSG303")
    assert f.severity == Severity.INFO
    assert f.details["attributes"] == ["_conn", "_pid"]


def test_reused_buffer_is_tsg304() -> None:
    """Returning one buffer without a copy: earlier batches change and share memory."""
    report = check(L.BufferSeq(), probes=["state"])
    (f,) = by_code(report, "TSG304")
    assert list(range(8)) == sorted(f.details["indices"])
    assert f.details["sharing"]


# --- resources -------------------------------------------------------------------------------------


def test_fd_growth_is_tsg721() -> None:
    """One file opened per call and kept: descriptors grow by one per call."""
    loader = L.FdLeakSeq()
    try:
        (f,) = by_code(check(loader, probes=["resources"]), "TSG721")
    finally:
        loader.close()
    assert f.details["series"][-1] - f.details["series"][1] == 7


def test_thread_growth_is_tsg722() -> None:
    """One thread started per call and left running: TSG722."""
    loader = L.ThreadLeakSeq()
    try:
        report = check(loader, probes=["resources"])
    finally:
        loader.close()
    assert [f.code for f in report.findings] == ["TSG722"]


# --- order and threads -----------------------------------------------------------------------------


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


# --- duplicates -----------------------------------------------------------------------------------


def test_legitimate_identical_rows_are_not_errors() -> None:
    """All-zero data: duplicates in the sequential pass are a warning, never an error."""
    (f,) = by_code(check(L.ZerosSeq(), workers=4, probes=["threads", "duplicates"]), "TSG401")
    assert f.severity == Severity.WARNING


def test_one_repeated_row_is_info() -> None:
    """One padding row repeated in 64: info with the count and the batch index."""
    (f,) = by_code(check(L.FewZerosSeq(), probes=["duplicates"]), "TSG401")
    assert (f.severity, f.details["duplicates"], f.details["example_indices"]) == (
        Severity.INFO,
        1,
        [0],
    )
