"""The process inspection probe: handles, locks, RNGs, threads and generator copies found by
looking (TSG201, TSG202, TSG204, TSG402, TSG503, TSG703).

Loaders live in tests/loaders/processes.py (spawned children import them by name); every test
checks that no child process is left behind.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import loaders.processes as L
import numpy as np
import pytest
from helpers.probes import FORK, assert_nothing_left, make_ctx, no_orphans, run, run_isolated
from helpers.probes import codes_of as by_code
from hypothesis import given
from hypothesis import strategies as st

import threadsafe_gen
from threadsafe_gen._probes import inspection
from threadsafe_gen._probes.inspection import other_python_threads, process_inspection
from threadsafe_gen._registry import Severity

needs_fork = pytest.mark.skipif(not FORK, reason="fork start method not available")


@pytest.fixture(autouse=True)
def _no_orphans() -> Iterator[None]:
    """Every child process started by a probe is reaped by the time it returns."""
    with no_orphans():
        yield


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real SQLite file with 32 ids."""
    return L.make_db(str(tmp_path_factory.mktemp("db") / "rows.db"))


@given(
    depth=st.integers(min_value=0, max_value=4),
    keys=st.lists(st.sampled_from(["a", "b", 0, 1, "x y"]), min_size=5, max_size=5),
)
def test_walk_reports_the_exact_path_of_a_nested_handle(depth: int, keys: list[Any]) -> None:
    """For any nesting of dicts, lists and objects, the socket is found at its exact path."""
    sock, peer = socket.socketpair()
    try:
        node: Any = sock
        path = ""
        for level in range(depth):
            key = keys[level]
            if level % 3 == 0:
                node, path = {key: node}, f"[{key!r}]{path}"
            elif level % 3 == 1:
                node, path = [None, node], f"[1]{path}"
            else:
                holder = types.SimpleNamespace(inner=node)
                node, path = holder, f".inner{path}"
        loader = types.SimpleNamespace(payload=node)
        walk = inspection.walk(loader)
        assert [f"loader.payload{path}"] == [p for p, _ in walk.handles]
    finally:
        sock.close()
        peer.close()


def test_handles_are_reported_with_paths_and_severity(tmp_path: Path) -> None:
    """TSG201 names an open file and both sockets; error when workers fork, else warning."""
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 64)
    loader = L.HandlesSeq(str(path))
    try:
        forked = by_code(process_inspection(make_ctx(loader)), "TSG201")
        threads = by_code(process_inspection(make_ctx(loader, use_multiprocessing=False)), "TSG201")
    finally:
        loader.close()
    expected = ["loader.files[0]", "loader.net['peer']", "loader.net['sock']"]
    assert expected == sorted(f.path for f in forked)
    assert {Severity.ERROR} == {f.severity for f in forked}
    assert {Severity.WARNING} == {f.severity for f in threads}


def test_library_handle_whose_type_names_no_module_is_recognised(tmp_path: Path) -> None:
    """lmdb's Environment says its module is 'builtins': still TSG201, named by its library."""
    lmdb = pytest.importorskip("lmdb")
    env = lmdb.open(str(tmp_path / "db"))
    try:
        loader = types.SimpleNamespace(env=env)
        (f,) = by_code(process_inspection(make_ctx(loader, kind="generator", workers=1)), "TSG201")
    finally:
        env.close()
    assert (f.path, f.details["kind"]) == ("loader.env", "LMDB environment")
    assert "an LMDB environment" in f.message


def test_pure_loader_and_per_process_resources_are_not_flagged(db: str) -> None:
    """No handle, lock or RNG finding for a pure loader or one using per_process/Lock/rng_for."""
    for loader in (L.PureSeq(), L.PerProcessSqliteSeq(db), L.RngForSeq()):
        _ = loader[0]  # opens this process's connection, as Keras' peek would
        found = process_inspection(make_ctx(loader))
        assert [f.code for f in found if f.code != "TSG204"] == []


def test_rng_objects_on_the_loader() -> None:
    """TSG503 names loader.aug['rng']: warning with process workers, info with threads."""
    loader = L.RngOnSelfSeq()
    procs = by_code(process_inspection(make_ctx(loader)), "TSG503")
    threads = by_code(process_inspection(make_ctx(loader, use_multiprocessing=False)), "TSG503")
    assert [f.path for f in procs] == ["loader.aug['rng']"]
    assert [f.severity for f in procs] == [Severity.WARNING]
    assert [f.severity for f in threads] == [Severity.INFO]
    assert procs[0].details["type"] == "numpy.random._generator.Generator"


def test_raw_lock_next_to_a_live_thread_is_flagged_and_ours_is_not() -> None:
    """TSG202 for a raw lock a background thread takes; none for threadsafe_gen.Lock."""
    raw = L.LockedSeq()
    ours = L.OwnLockSeq(threadsafe_gen.Lock())
    worker = threading.Thread(target=raw.refresh_forever, name="refresher", daemon=True)
    worker.start()
    try:
        with ours.lock:  # held right now by this thread: still safe, re-created at fork
            flagged = by_code(process_inspection(make_ctx(raw)), "TSG202")
            safe = by_code(process_inspection(make_ctx(ours)), "TSG202")
    finally:
        raw.stop.set()
        worker.join(5)
    assert [f.path for f in flagged] == ["loader.lock"]
    assert "refresher" in flagged[0].details["threads"]
    assert safe == []


def test_raw_lock_held_at_fork_is_an_error_only_when_workers_fork() -> None:
    """A raw lock held right now: error with fork workers, warning with threads."""
    loader = L.LockedSeq()
    with loader.lock:
        forked = by_code(process_inspection(make_ctx(loader)), "TSG202")
        threads = by_code(process_inspection(make_ctx(loader, use_multiprocessing=False)), "TSG202")
    assert [(f.details["held"], f.severity) for f in forked] == [(True, Severity.ERROR)]
    assert [f.severity for f in threads] == [Severity.WARNING]


def test_multithreaded_fork_is_reported_only_when_workers_fork() -> None:
    """TSG204 (info) counts this process's threads when the workers fork, not with threads."""
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="busy", daemon=True)
    t.start()
    try:
        forked = by_code(process_inspection(make_ctx(L.PureSeq())), "TSG204")
        threads = by_code(
            process_inspection(make_ctx(L.PureSeq(), use_multiprocessing=False)), "TSG204"
        )
    finally:
        stop.set()
        t.join(5)
    assert [f.severity for f in forked] == [Severity.INFO]
    assert forked[0].details["os_threads"] >= 2
    assert "busy" in forked[0].details["python_threads"]
    assert threads == []


# --- generators: copied into every process (TSG402) -----------------------------------------


@pytest.mark.slow
@needs_fork
def test_generator_function_is_copied_per_process_measured() -> None:
    """TSG402 error with process workers; 2 forked copies yield the same 4 of 4 items."""
    ctx = make_ctx(L.gen_batches, kind="generator", make_iterator=L.gen_batches, workers=4)
    found = by_code(run(ctx), "TSG402")
    assert [f.severity for f in found] == [Severity.ERROR]
    assert (
        found[0].details["factor"],
        found[0].details["identical"],
        found[0].details["compared"],
    ) == (4, 4, 4)


@pytest.mark.slow
@needs_fork
def test_threadsafe_generator_copies_refuse_loudly_measured() -> None:
    """TSG402 for a @threadsafe_generator loader says the forked copies raise CopiedIteratorError."""
    make = threadsafe_gen.threadsafe_generator(L.gen_batches)
    ctx = make_ctx(make, kind="generator", make_iterator=make, workers=4)
    found = by_code(process_inspection(ctx), "TSG402")
    assert [f.severity for f in found] == [Severity.ERROR]
    assert found[0].details["refused"] == "threadsafe_gen.errors.CopiedIteratorError"
    assert "instead of duplicating every item" in found[0].message


def test_started_threadsafe_iter_loader_is_reported_as_refused_without_a_child() -> None:
    """A threadsafe_iter loader cannot be copied to measure: TSG402 still says copies refuse."""
    loader = threadsafe_gen.threadsafe_iter(L.gen_batches())
    found = by_code(process_inspection(make_ctx(loader, kind="generator")), "TSG402")
    assert [f.severity for f in found] == [Severity.ERROR]
    assert found[0].details == {
        "factor": 2,
        "refused": "threadsafe_gen.errors.CopiedIteratorError",
    }


def test_generator_with_threads_warns_and_one_worker_is_fine() -> None:
    """TSG402 is a warning with worker threads and absent with workers=1 (no child needed)."""
    gen = L.gen_batches()
    threads = by_code(
        process_inspection(make_ctx(gen, kind="generator", use_multiprocessing=False)),
        "TSG402",
    )
    single = by_code(process_inspection(make_ctx(gen, kind="generator", workers=1)), "TSG402")
    assert [f.severity for f in threads] == [Severity.WARNING]
    assert single == []


@pytest.mark.keras
@pytest.mark.parametrize(
    ("workers", "use_multiprocessing", "expected"),
    [(2, False, ["TSG703"]), (1, True, ["TSG703"]), (1, False, [])],
)
def test_tf_keras_sequence_with_workers_stalls_at_every_epoch_end(
    workers: int, use_multiprocessing: bool, expected: list[str]
) -> None:
    """TSG703 for a tf_keras Sequence fed through its OrderedEnqueuer, not for workers=1."""
    tf_keras = pytest.importorskip("tf_keras")

    class Rows(tf_keras.utils.Sequence):  # type: ignore[misc,name-defined]
        def __len__(self) -> int:
            return 2

        def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
            return (np.full((4, 1), i, np.float32),)

    ctx = make_ctx(Rows(), workers=workers, use_multiprocessing=use_multiprocessing)
    found = [f for f in process_inspection(ctx) if f.code != "TSG204"]
    assert [f.code for f in found] == expected
    assert all("OrderedEnqueuer" in f.message and "5 s" in f.message for f in found)


@pytest.mark.keras
def test_tf_keras_on_epoch_end_called_twice_is_named_when_overridden() -> None:
    """tf_keras calls on_epoch_end mid-epoch too (4.6): a Sequence that reshuffles there is
    told, at TSG703's documented info severity (issue 10 item 9)."""
    tf_keras = pytest.importorskip("tf_keras")

    class Shuffled(tf_keras.utils.Sequence):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.order = np.arange(2)

        def __len__(self) -> int:
            return 2

        def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
            return (np.full((4, 1), self.order[i], np.float32),)

        def on_epoch_end(self) -> None:
            np.random.default_rng(0).shuffle(self.order)

    ctx = make_ctx(Shuffled(), workers=2, use_multiprocessing=False)
    (f,) = [f for f in process_inspection(ctx) if f.code == "TSG703"]
    assert (f.path, f.severity) == ("loader.on_epoch_end", Severity.INFO)
    assert "twice per epoch" in f.message
    assert "Shuffled overrides on_epoch_end" in f.message


@pytest.mark.keras
def test_tf_keras_on_epoch_end_that_does_nothing_is_not_an_override() -> None:
    """An on_epoch_end whose body is `pass` changes nothing mid-epoch: only the stall (row
    4.5, measured for any tf_keras Sequence with workers), at info (issue 10 item 9)."""
    tf_keras = pytest.importorskip("tf_keras")

    class Passes(tf_keras.utils.Sequence):  # type: ignore[misc,name-defined]
        def __len__(self) -> int:
            return 2

        def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
            return (np.full((4, 1), i, np.float32),)

        def on_epoch_end(self) -> None:
            """Nothing to do between epochs."""

    ctx = make_ctx(Passes(), workers=2, use_multiprocessing=False)
    (f,) = [f for f in process_inspection(ctx) if f.code == "TSG703"]
    assert (f.path, f.severity) == ("loader", Severity.INFO)
    assert "twice per epoch" not in f.message


def test_does_nothing_reads_the_body() -> None:
    """pass, ... and a docstring do nothing; any statement does something."""

    def passes(self: Any) -> None:
        pass

    def shuffles(self: Any) -> None:
        self.order = self.order[::-1]

    assert inspection._does_nothing(passes)
    assert inspection._does_nothing(inspection._nothing)
    assert not inspection._does_nothing(shuffles)
    assert not inspection._does_nothing(len)


@pytest.mark.keras
def test_keras_3_pydataset_has_no_epoch_stall() -> None:
    """Keras 3 has no OrderedEnqueuer: a PyDataset with workers=2 is not TSG703."""
    pytest.importorskip("keras")
    import loaders.processes_keras as K

    ds = K.RandomPyDataset(workers=2, use_multiprocessing=True)
    assert "TSG703" not in [f.code for f in process_inspection(make_ctx(ds))]


def test_walk_follows_closures_and_partials() -> None:
    """A connection captured by a lambda or bound in a partial is found, with its path."""
    import functools
    import sqlite3

    conn = sqlite3.connect(":memory:")
    other = sqlite3.connect(":memory:")
    try:
        loader = types.SimpleNamespace(
            fetch=lambda q: conn.execute(q),
            query=functools.partial(sqlite3.Connection.execute, other),
        )
        paths = sorted(p for p, _ in inspection.walk(loader).handles)
    finally:
        conn.close()
        other.close()
    assert paths == ["loader.fetch.<closure conn>", "loader.query.args[0]"]


def test_threads_native_code_registered_are_not_named_as_live_threads() -> None:
    """A thread started outside `threading` that called into Python (as tf.data's do) stays
    in threading.enumerate() before 3.13 after it ended: it is not named as a live thread."""
    import _thread

    seen = threading.Event()
    box: list[threading.Thread] = []

    def native() -> None:
        box.append(threading.current_thread())  # registers a threading._DummyThread
        seen.set()

    _thread.start_new_thread(native, ())
    assert seen.wait(5)
    assert isinstance(box[0], threading._DummyThread)
    assert box[0] not in other_python_threads()


def test_walk_skips_objects_made_to_cross_processes(tmp_path: Path) -> None:
    """A multiprocessing queue and a logger with a file handler are not fork hazards."""
    import logging

    log = logging.getLogger("tsg-test-walk")
    handler = logging.FileHandler(tmp_path / "log.txt")
    log.addHandler(handler)
    queue: Any = multiprocessing.get_context("spawn").SimpleQueue()
    try:
        walk = inspection.walk(types.SimpleNamespace(log=log, queue=queue))
    finally:
        log.removeHandler(handler)
        handler.close()
        queue.close()
    assert (walk.handles, walk.locks) == ([], [])


# --- a generator whose first item never comes ----------------------------------------------------

NEVER_FIRST = """
import threading
import numpy as np
from threadsafe_gen import threadsafe_generator

RELEASE = threading.Event()
KWARGS = {"workers": 4, "timeout": 6.0, "batch_timeout": 1.0}

@threadsafe_generator
def never_first():
    RELEASE.wait()
    while True:
        yield (np.zeros((2, 1)), np.zeros(2))

def make():
    return never_first

def release(loader):
    RELEASE.set()
"""


@pytest.mark.slow
@pytest.mark.parametrize("probes", [None, ["process_inspection"]], ids=["all", "alone"])
def test_generator_whose_first_item_never_comes_is_bounded(tmp_path: Path, probes: Any) -> None:
    """@threadsafe_generator that blocks before its first item, workers=4: the copies are not
    measured on this thread; check_loader returns in time with TSG801 and leaves nothing."""
    case = NEVER_FIRST.replace(
        '"batch_timeout": 1.0}', f'"batch_timeout": 1.0, "probes": {probes!r}}}'
    )
    result = run_isolated(case, tmp_path, hard_timeout=60)
    assert result["elapsed"] < 6.0 + 5.0
    assert "TSG801" in [code for code, _ in result["findings"]]
    assert_nothing_left(result)


class _ShufflesInEpochEnd(L.PureSeq):
    """An RNG on the loader that only on_epoch_end uses (in the parent): issue 10 item 3."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = np.random.default_rng(0)
        self.order = np.arange(len(self))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return L.batch_for(int(self.order[index]))

    def on_epoch_end(self) -> None:
        self.rng.shuffle(self.order)


class _Pipeline(L.PureSeq):
    """Three augmentation steps, each with its own RNG, all drawn from in __getitem__."""

    def __init__(self) -> None:
        super().__init__()
        self.augment = [np.random.default_rng(k) for k in range(3)]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = L.batch_for(index)
        for rng in self.augment:
            x = x + rng.normal(size=x.shape).astype(np.float32)
        return x, y


def _observed_inspection(loader: Any) -> list[Any]:
    report = threadsafe_gen.check_loader(
        loader,
        workers=2,
        use_multiprocessing=True,
        start_method="fork",
        probes=["sequential", "process_inspection"],
    )
    return by_code(report.findings, "TSG503")


@pytest.mark.skipif(not FORK, reason="the canary needs fork")
def test_rng_used_only_in_on_epoch_end_is_not_tsg503() -> None:
    """The canary saw __getitem__ draw nothing from loader.rng: no TSG503 (item 3)."""
    assert _observed_inspection(_ShufflesInEpochEnd()) == []


@pytest.mark.skipif(not FORK, reason="the canary needs fork")
def test_rngs_of_one_attribute_are_one_tsg503() -> None:
    """Three RNGs inside loader.augment, all drawn from: one finding that lists them (item 8)."""
    (f,) = _observed_inspection(_Pipeline())
    assert f.path == "loader.augment[0]"
    assert f.details["rngs"] == ["loader.augment[0]", "loader.augment[1]", "loader.augment[2]"]
    assert "and 2 more RNGs in loader.augment" in f.message


def test_handles_on_one_resource_are_one_tsg201(tmp_path: Path) -> None:
    """Two datasets of one HDF5 file are one open file: one TSG201 naming both (item 8)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["x"] = np.zeros((4, 2))
        f["y"] = np.zeros(4)
    handle = h5py.File(tmp_path / "d.h5", "r")
    try:
        loader = types.SimpleNamespace(x=handle["x"], y=handle["y"])
        (f,) = by_code(process_inspection(make_ctx(loader, kind="generator", workers=1)), "TSG201")
    finally:
        handle.close()
    assert (f.path, f.details["paths"]) == ("loader.x", ["loader.x", "loader.y"])
