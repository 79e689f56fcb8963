"""check_loader(): accepted loaders, options, defaults, budget, hang and crash safety, reports."""

from __future__ import annotations

import json
import multiprocessing
import time
from typing import Any

import loaders.basic as L
import numpy as np
import pytest
from helpers.probes import assert_nothing_left, run_isolated
from hypothesis import given
from hypothesis import strategies as st

from threadsafe_gen import _check, check_loader
from threadsafe_gen._finding import Finding
from threadsafe_gen._probes import ProbeContext
from threadsafe_gen._registry import Severity
from threadsafe_gen._report import LoaderReport
from threadsafe_gen.errors import LoaderCheckError

INPROCESS = ["sequential", "structure", "state", "resources", "order", "threads", "duplicates"]


# --- what is accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (L.CleanSeq, r"got the class CleanSeq, not a loader; did you mean CleanSeq\(\.\.\.\)\?"),
        (np.zeros((4, 2)), "an array holds data, not batches"),
        ({"x": 1}, "this is data, not a loader"),
        (42, r"expected a loader, got 42 \(type=int\)"),
        (len, r"not a generator function; did you mean to pass what it returns"),
        (L.gen_needs_args, r"gen_needs_args\(\) needs arguments .*functools.partial"),
    ],
)
def test_unsupported_loaders_raise_type_error_naming_what_is_accepted(bad: Any, match: str) -> None:
    """Each wrong kind of object gets a TypeError saying what was expected (and a guess)."""
    with pytest.raises(TypeError, match=match) as info:
        check_loader(bad)
    assert "generator function" in str(info.value) or "functools.partial" in str(info.value)


@pytest.mark.parametrize(
    ("loader", "kind"),
    [
        (L.CleanSeq(), "sequence"),
        (L.gen_clean, "generator"),
        (L.gen_clean(), "generator"),
        (L.RacyIterator(), "generator"),
        (iter([L.batch_for(0), L.batch_for(1)]), "generator"),
    ],
)
def test_accepted_kinds(loader: Any, kind: str) -> None:
    """Sequences, generator functions, generator objects and iterators are accepted."""
    report = check_loader(loader, probes=["sequential"])
    assert kind == report.settings["kind"]


def test_generator_function_with_partial_is_accepted() -> None:
    """functools.partial of a generator function is called with no arguments."""
    import functools

    report = check_loader(functools.partial(L.gen_needs_args, 3), probes=["sequential"])
    assert report.settings["kind"] == "generator"


# --- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"workers": 0}, ValueError, "expected workers >= 1, got 0"),
        ({"workers": "4"}, TypeError, r"expected workers to be an int, got '4' \(type=str\)"),
        ({"timeout": -1}, ValueError, "expected timeout > 0"),
        ({"batch_timeout": 0}, ValueError, "expected batch_timeout > 0"),
        ({"max_batches": 0}, ValueError, "expected max_batches >= 1"),
        ({"use_multiprocessing": 1}, TypeError, "expected use_multiprocessing to be a bool"),
        ({"start_method": "thread"}, ValueError, "'fork', 'spawn' or 'forkserver'"),
        ({"ignore": ["TSG10"]}, ValueError, "unknown finding code 'TSG10'"),
        ({"ignore": [101]}, TypeError, "finding codes like 'TSG103'"),
        ({"probes": ["sequencial"]}, ValueError, "Did you mean 'sequential'"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    """Every option is validated with a message naming the option and what was expected."""
    with pytest.raises(error, match=match):
        check_loader(L.CleanSeq(), **kwargs)


def test_ignore_drops_codes_and_is_recorded() -> None:
    """ignore= removes the code from the report and lists it in the settings."""
    plain = check_loader(L.RaisingSeq(), probes=["sequential"])
    quiet = check_loader(L.RaisingSeq(), probes=["sequential"], ignore="tsg822")
    assert "TSG822" in plain.codes()
    assert "TSG822" not in quiet.codes()
    assert quiet.settings["ignore"] == ["TSG822"]


def test_defaults_workers_and_start_method() -> None:
    """Without settings on the loader: workers=1, threads, multiprocessing's start method."""
    report = check_loader(L.CleanSeq(), probes=["sequential"])
    expected = (
        multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_context().get_start_method()
    )
    assert (1, False, expected) == (
        report.settings["workers"],
        report.settings["use_multiprocessing"],
        report.settings["start_method"],
    )


def test_defaults_from_private_pydataset_attributes() -> None:
    """A loader with PyDataset's _workers/_use_multiprocessing gives the defaults."""

    class Configured(L.CleanSeq):
        _workers = 3
        _use_multiprocessing = True

    report = check_loader(Configured(), probes=["sequential"], start_method="fork")
    assert (report.settings["workers"], report.settings["use_multiprocessing"]) == (3, True)


@given(st.integers(0, 500), st.integers(1, 80))
def test_index_spread(length: int, max_batches: int) -> None:
    """Probed indices: sorted, distinct, in range, min(len, max_batches) of them, both ends."""
    got = _check._spread(length, max_batches)
    assert got == sorted(set(got))
    assert min(length, max_batches) == len(got)
    assert all(0 <= i < length for i in got)
    if length and max_batches >= 2:
        assert (0, length - 1) == (got[0], got[-1])


class BadLen(L.CleanSeq):
    """__len__ raises (a bug Keras meets before the first batch)."""

    def __len__(self) -> int:
        raise RuntimeError("no length yet")


def test_len_that_raises_is_tsg822() -> None:
    """len() raising is reported with its message; indices are probed up to max_batches."""
    report = check_loader(BadLen(), probes=["sequential"], max_batches=8)
    f = next(f for f in report.findings if f.path == "len(loader)")
    assert (f.code, f.details["error"]) == ("TSG822", "RuntimeError: no length yet")


# --- orchestration --------------------------------------------------------------------------------


def _boom(ctx: ProbeContext) -> list[Finding]:
    msg = "a bug in a probe"
    raise RuntimeError(msg)


def test_probe_that_raises_is_failed_not_fatal() -> None:
    """A probe's exception becomes a 'failed' ProbeResult; the other probes still run."""
    report = check_loader(L.RaisingSeq(), probes=["sequential", _boom])
    statuses = {p.name: (p.status, p.note) for p in report.probes}
    assert statuses["_boom"] == ("failed", "the probe raised RuntimeError: a bug in a probe")
    assert "TSG822" in report.codes()


def test_missing_process_probes_are_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    """If threadsafe_gen._probes.processes cannot be imported, a skipped result says so."""
    monkeypatch.setattr(_check, "_process_probes", lambda: ([], "process probes unavailable: test"))
    report = check_loader(L.CleanSeq(), probes=["sequential", "processes"])
    assert (
        report.probes[-1].status,
        report.probes[-1].note,
    ) == ("skipped", "process probes unavailable: test")


class SlowSeq(L.CleanSeq):
    """Every call takes 50 ms: 64 of them do not fit in a 1 s budget."""

    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        time.sleep(0.05)
        return L.batch_for(index)


def test_budget_exhausted_is_tsg802_naming_skipped_probes() -> None:
    """A 1 s budget: the pass stops at the deadline and the skipped probes are listed."""
    t0 = time.monotonic()
    report = check_loader(SlowSeq(), timeout=1.0, probes=INPROCESS)
    elapsed = time.monotonic() - t0
    (f,) = [f for f in report.findings if f.code == "TSG802"]
    assert elapsed < 1.0 + 2.0
    assert "threads" in f.details["skipped"] or "order" in f.details["skipped"]


@pytest.mark.slow
def test_hanging_getitem_is_tsg801_within_budget() -> None:
    """loader[3] never returns: TSG801 names it, later in-process probes are skipped, and the
    whole check (process probes included) ends within timeout plus a few seconds."""
    loader = L.HangSeq()
    t0 = time.monotonic()
    try:
        report = check_loader(loader, timeout=8.0, batch_timeout=1.0)
    finally:
        loader.release()
    elapsed = time.monotonic() - t0
    hangs = [f for f in report.findings if f.code == "TSG801"]
    assert "loader[3]" in [f.path for f in hangs]
    assert elapsed < 8.0 + 5.0
    assert next(p.status for p in report.probes if p.name == "threads") == "skipped"
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_os_exit_is_tsg821_and_the_caller_survives() -> None:
    """os._exit(13) at index 2 kills only the forked canary: TSG821 with the exit code."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("the canary needs fork")
    report = check_loader(L.ExitSeq(), probes=INPROCESS)
    (f,) = [f for f in report.findings if f.code == "TSG821"]
    assert (f.path, f.details["exitcode"]) == ("loader[2]", 13)
    assert [p.status for p in report.probes] == ["ran"] + ["skipped"] * 6
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_clean_exit_of_the_process_is_tsg821_too() -> None:
    """os._exit(0) ends the process as surely as a crash: TSG821 with exit code 0."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("the canary needs fork")
    report = check_loader(L.ExitZeroSeq(), probes=INPROCESS)
    (f,) = [f for f in report.findings if f.code == "TSG821"]
    assert (f.path, f.details["exitcode"]) == ("loader[1]", 0)


def test_no_threads_or_processes_are_left_behind() -> None:
    """After a check of a clean loader: the same threads as before, and no child processes."""
    import threading

    before = threading.active_count()
    check_loader(L.SleepySeq(), workers=4, probes=INPROCESS)
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)  # probe threads end right after their last call returns
    # <=: a thread an earlier test left (a released hang) may end meanwhile.
    assert threading.active_count() <= before
    assert multiprocessing.active_children() == []


# --- hostile loaders: the check returns within its budget, whatever the loader does ---------------

HANGING_LEN = """
import threading
import numpy as np

RELEASE = threading.Event()
KWARGS = {"timeout": 6.0, "batch_timeout": 1.0}

class HangingLen:
    def __len__(self):
        RELEASE.wait()
        return 4

    def __getitem__(self, i):
        return (np.zeros((2, 1)), np.zeros(2))

def make():
    return HangingLen()

def release(loader):
    RELEASE.set()
"""


@pytest.mark.slow
def test_len_that_never_returns_is_tsg801_within_budget(tmp_path: Any) -> None:
    """len() blocks for ever: check_loader still returns in time, with TSG801 on len(loader),
    and leaves no thread, process or descriptor behind once the loader lets go."""
    result = run_isolated(HANGING_LEN, tmp_path, hard_timeout=60)
    assert result["elapsed"] < 6.0 + 5.0
    assert ["TSG801", "len(loader)"] in result["findings"]
    assert_nothing_left(result)


RAISING_GETATTR = """
import numpy as np

KWARGS = {"timeout": 20.0, "batch_timeout": 2.0, "workers": 2}

class RaisingGetattr:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return (np.full((2, 1), i, np.float32), np.zeros(2))

    def __getattr__(self, name):
        raise RuntimeError(f"no attribute {name} here")

def make():
    return RaisingGetattr()

def release(loader):
    pass
"""


@pytest.mark.slow
def test_getattr_raising_other_errors_does_not_break_the_check(tmp_path: Any) -> None:
    """A __getattr__ that raises RuntimeError (not AttributeError) for every missing name:
    check_loader reports on the loader instead of raising, and leaves nothing behind."""
    result = run_isolated(RAISING_GETATTR, tmp_path, hard_timeout=90)
    assert result["elapsed"] < 20.0 + 5.0
    assert [name for name, status in result["probes"] if status == "failed"] == []
    assert_nothing_left(result)


# --- the report -------------------------------------------------------------------------------------


def test_report_renders_serialises_and_raises() -> None:
    """str() is readable, to_json() round-trips, raise_for_errors() is an AssertionError."""
    report = check_loader(L.RaisingSeq(), probes=["sequential"])
    data = json.loads(report.to_json())
    assert "TSG822 [error] crash: loader[3]" in str(report)
    assert data["findings"][0]["code"] == "TSG822"
    assert data["probes"][0]["name"] == "sequential"
    with pytest.raises(AssertionError, match="boom at index 3") as info:
        report.raise_for_errors()
    assert isinstance(info.value, LoaderCheckError)


@pytest.mark.slow
def test_skip_notes_reach_the_report() -> None:
    """Why a step was skipped (here: the spawn dry run leaves an unpicklable loader to the
    pickling probe) is in report.notes, in str(report) and in to_json()."""
    report = check_loader(L.UnpicklableSeq(), probes=["pickling", "spawn_dry_run"])
    (note,) = [n for n in report.notes if "the pickling probe reports where" in n]
    assert note.startswith("spawn_dry_run: the loader cannot be sent to a spawn worker")
    assert f"    - {note}" in str(report).splitlines()
    assert json.loads(report.to_json())["notes"] == report.notes


def test_clean_report_does_not_raise() -> None:
    """A clean loader: ok, and raise_for_errors() returns None."""
    report = check_loader(L.CleanSeq(), workers=2, probes=[*INPROCESS, "pickling"])
    assert report.ok
    report.raise_for_errors()  # does not raise


def test_findings_are_deduplicated_by_code_and_path() -> None:
    """Two probes reporting the same code at the same path give one finding."""

    def twice(ctx: ProbeContext) -> list[Finding]:
        from threadsafe_gen._finding import make_finding

        return [make_finding("TSG822", path="loader[3]", message="again")]

    report = check_loader(L.RaisingSeq(), probes=["sequential", twice])
    assert sum(1 for f in report.findings if f.code == "TSG822") == 1


# --- frameworks: Keras 3 PyDataset and tf_keras -----------------------------------------------------


@pytest.fixture(scope="module")
def tf_loaders() -> Any:
    """tests/loaders/basic_keras.py (imports TensorFlow once for this module)."""
    pytest.importorskip("keras")
    pytest.importorskip("tf_keras")
    import loaders.basic_keras

    return loaders.basic_keras


@pytest.mark.slow
@pytest.mark.keras
def test_pydataset_settings_are_the_defaults(tf_loaders: Any) -> None:
    """PyDataset(workers=3, use_multiprocessing=True) sets check_loader's defaults."""
    ds = tf_loaders.PureDataset(workers=3, use_multiprocessing=True)
    report = check_loader(ds, probes=["sequential"], start_method="fork")
    assert (report.settings["workers"], report.settings["use_multiprocessing"]) == (3, True)


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.parametrize(("use_mp", "method"), [(False, "fork"), (True, "fork"), (True, "spawn")])
def test_clean_pydataset_has_no_errors_under_threads_fork_and_spawn(
    tf_loaders: Any, use_mp: bool, method: str
) -> None:
    """The bar of issue 3: a pure PyDataset gives no error finding in any mode (all probes)."""
    ds = tf_loaders.PureDataset(workers=2, use_multiprocessing=use_mp)
    report = check_loader(ds, start_method=method, timeout=60.0)
    assert report.errors == [], str(report)
    assert "failed" not in {p.status for p in report.probes}, str(report)


@pytest.mark.slow
@pytest.mark.keras
def test_pydataset_problems_are_found(tf_loaders: Any) -> None:
    """Keras 3: a cursor PyDataset is TSG301, a sqlite PyDataset is TSG305."""
    cursor = check_loader(tf_loaders.CursorDataset(workers=4), probes=INPROCESS)
    sqlite = check_loader(tf_loaders.SqliteDataset(), probes=INPROCESS)
    assert next(f.severity for f in cursor.findings if f.code == "TSG301") == Severity.ERROR
    assert "TSG305" in sqlite.codes()


@pytest.mark.slow
@pytest.mark.keras
def test_tf_keras_sequences(tf_loaders: Any) -> None:
    """tf_keras: a clean Sequence is ok; a reused buffer is TSG304; flow() works with threads."""
    clean = check_loader(tf_loaders.LegacySequence(), workers=4, probes=INPROCESS)
    buffer = check_loader(tf_loaders.LegacyBufferSequence(), workers=4, probes=INPROCESS)
    flow = check_loader(tf_loaders.image_flow(), workers=4, probes=INPROCESS)
    assert set() == clean.codes()
    assert "TSG304" in buffer.codes()
    assert flow.ok, str(flow)


def test_report_type() -> None:
    """check_loader returns a LoaderReport describing the loader."""
    report = check_loader(L.CleanSeq(), probes=["sequential"])
    assert isinstance(report, LoaderReport)
    assert report.loader == "loaders.basic.CleanSeq (len=8)"


# --- every category, in every framework family ---------------------------------------------------

#: (category, problem loader in tests/loaders/basic.py, probes that find it, planned processes, code)
CATEGORY_CASES = [
    ("pickling", "UnpicklableSeq", ["pickling"], True, "TSG101"),
    ("fork-safety", "SqliteSeq", ["process_inspection"], True, "TSG201"),
    ("thread-safety", "CursorSeq", INPROCESS, False, "TSG301"),
    ("duplicate-data", "WrapSeq", INPROCESS, False, "TSG401"),
    ("randomness", "RandomSeq", ["fork_dry_run"], True, "TSG501"),
    ("coverage", "LenTooLongSeq", INPROCESS, False, "TSG601"),
    ("structure", "DtypeChangeSeq", INPROCESS, False, "TSG622"),
    ("performance", "LockedSeq", INPROCESS, False, "TSG701"),
    ("resources", "FdLeakSeq", INPROCESS, False, "TSG721"),
    ("hang", "HangSeq", INPROCESS, False, "TSG801"),
    ("crash", "ExitSeq", ["fork_dry_run"], True, "TSG821"),
]


@pytest.mark.slow
@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="the dry runs fork"
)
@pytest.mark.parametrize(
    "family",
    [
        "duck-typed",
        pytest.param("keras3", marks=pytest.mark.keras),
        pytest.param("tf_keras", marks=pytest.mark.keras),
    ],
)
@pytest.mark.parametrize(
    ("category", "problem", "probes", "processes", "code"),
    CATEGORY_CASES,
    ids=[c[0] for c in CATEGORY_CASES],
)
def test_every_category_is_found_in_every_framework_family(
    family: str, category: str, problem: str, probes: list[str], processes: bool, code: str
) -> None:
    """The same problem is found whether the loader is duck-typed, a Keras 3 PyDataset or a
    tf_keras Sequence (generator functions: tests/test_probes_*.py)."""
    from threadsafe_gen import REGISTRY

    assert {c[0] for c in CATEGORY_CASES} == {r.category.value for r in REGISTRY.values()}
    if family == "duck-typed":
        loader = getattr(L, problem)()
    else:
        LT = pytest.importorskip("loaders.basic_keras")
        loader = LT.in_family(problem, family)()
    try:
        report = check_loader(
            loader,
            workers=2,
            use_multiprocessing=processes,
            start_method="fork",
            probes=probes,
            batch_timeout=2.0,
            timeout=30.0,
        )
    finally:
        for cleanup in ("release", "close"):  # a hung call returns, leaked handles close
            getattr(loader, cleanup, lambda: None)()
    found = {f.code: f for f in report.findings}
    assert code in found, str(report)
    assert found[code].category.value == category
