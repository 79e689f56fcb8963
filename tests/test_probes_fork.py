"""The fork dry run: batches computed in forked workers, as Keras' pool computes them
(TSG203, TSG501, TSG502, and TSG801/TSG821 from workers).

Loaders that crash or hang do so only in child processes, so a probe bug cannot take pytest
down; every test checks that no child process is left behind.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import loaders.processes as L
import numpy as np
import pytest
from helpers.probes import FORK, make_ctx, no_orphans, run
from helpers.probes import codes_of as by_code
from hypothesis import given, settings
from hypothesis import strategies as st

import threadsafe_gen
from threadsafe_gen import check_loader, rng_for
from threadsafe_gen._probes.fork import fork_dry_run
from threadsafe_gen._probes.inspection import process_inspection
from threadsafe_gen._probes.spawn import spawn_dry_run
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


@pytest.mark.slow
@needs_fork
def test_pure_loader_gives_no_fork_findings() -> None:
    """A pure duck-typed Sequence: the fork dry run finds nothing."""
    assert fork_dry_run(make_ctx(L.PureSeq())) == []


@pytest.mark.slow
@needs_fork
def test_global_rng_repeats_across_workers_and_epochs() -> None:
    """np.random in __getitem__: TSG501 and TSG502, errors when the workers fork."""
    found = fork_dry_run(make_ctx(L.GlobalRandomSeq()))
    assert sorted(f.code for f in found) == ["TSG501", "TSG502"]
    assert {Severity.ERROR} == {f.severity for f in found}
    same = by_code(found, "TSG501")[0].details
    assert same["identical"] == same["compared"]


@pytest.mark.slow
@needs_fork
def test_rng_on_loader_repeats_but_is_only_a_warning_with_threads() -> None:
    """A Generator on the loader repeats in forked workers: a warning when workers are threads."""
    found = fork_dry_run(make_ctx(L.RngOnSelfSeq(), use_multiprocessing=False))
    assert sorted(f.code for f in found) == ["TSG501", "TSG502"]
    assert {Severity.WARNING} == {f.severity for f in found}


@pytest.mark.slow
@needs_fork
@pytest.mark.parametrize(
    "loader",
    [L.StdlibRandomSeq(), L.IndexSeededSeq(), L.RngForSeq(), L.GuardedRandomSeq()],
    ids=["stdlib-random", "index-seeded", "rng_for", "keras.guard"],
)
def test_randomness_that_differs_per_worker_or_is_keyed_is_not_flagged(loader: Any) -> None:
    """stdlib random (reseeded after fork), index-keyed RNGs and guard(): no finding from the
    fork dry run alone, which compares results only (the canary's observation adds item 18's
    epoch check: see below)."""
    assert fork_dry_run(make_ctx(loader)) == []


# --- with the canary's observation of each call (check_loader's order) ---------------------------


def _observed_check(loader: Any, **kwargs: Any) -> list[Any]:
    """The sequential probe (its forked canary observes the calls), then the fork dry run."""
    kwargs.setdefault("workers", 2)
    kwargs.setdefault("use_multiprocessing", True)
    kwargs.setdefault("start_method", "fork")
    report = check_loader(loader, probes=["sequential", "fork_dry_run"], **kwargs)
    return report.findings


@pytest.mark.slow
@needs_fork
def test_index_seeded_augmentation_repeats_every_epoch() -> None:
    """np.random.default_rng([1234, index]): the same 'random' batch every epoch: TSG502,
    a warning whatever the workers (issue 10 item 18); not TSG501 (nothing is inherited)."""
    (f,) = [f for f in _observed_check(L.IndexSeededSeq()) if f.code.startswith("TSG5")]
    assert (f.code, f.severity) == ("TSG502", Severity.WARNING)
    assert "numpy.random.default_rng([1234, 0]), numpy.random.default_rng([1234, 1])" in f.message


@pytest.mark.slow
@needs_fork
@pytest.mark.parametrize(
    "loader",
    [L.RngForSeq(), L.StdlibRandomSeq(), L.GuardedRandomSeq()],
    ids=["rng_for-epoch", "stdlib-random", "keras.guard"],
)
def test_epoch_keyed_or_per_worker_randomness_is_clean_when_observed(loader: Any) -> None:
    """rng_for(index, epoch) with on_epoch_end moving the epoch, stdlib random, guard():
    nothing, with the observation too."""
    assert [f.code for f in _observed_check(loader) if f.code.startswith("TSG5")] == []


class _Cursor(L.PureSeq):
    """A cursor: results depend on the calls before, no random number is drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.pos = 0

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        self.pos += 1
        return L.batch_for(self.pos % len(self))


@pytest.mark.slow
@needs_fork
def test_a_cursor_is_not_randomness() -> None:
    """Two calls of one index differ, but nothing random was drawn: no TSG501/TSG502 (item 4)."""
    assert {"TSG501", "TSG502"}.isdisjoint(f.code for f in _observed_check(_Cursor()))


@pytest.mark.slow
@needs_fork
def test_global_rng_is_named_when_observed() -> None:
    """The finding names the RNG the calls drew from."""
    found = [f for f in _observed_check(L.GlobalRandomSeq()) if f.code.startswith("TSG5")]
    assert sorted(f.code for f in found) == ["TSG501", "TSG502"]
    assert all("numpy.random (global RNG)" in f.message for f in found)


@pytest.mark.slow
@needs_fork
def test_sqlite_connection_from_init_fails_in_forked_worker(db: str) -> None:
    """sqlite3.connect() in __init__: TSG203 with the ProgrammingError's traceback."""
    found = fork_dry_run(make_ctx(L.SqliteInInitSeq(db)))
    assert [f.code for f in found] == ["TSG203"]
    details = found[0].details
    assert details["exception_type"] == "sqlite3.ProgrammingError"
    assert "Traceback" in details["traceback"]
    assert details["failed_indices"] == [0, 1, 2, 5, 7]


@pytest.mark.slow
@needs_fork
def test_lazy_connection_without_pid_check_fails_in_forked_worker(db: str) -> None:
    """A connection opened lazily by the parent's peek is inherited: TSG203 (2b')."""
    found = fork_dry_run(make_ctx(L.LazySqliteSeq(db)))
    assert [(f.code, f.path) for f in found] == [("TSG203", "loader[0]")]


@pytest.mark.slow
@needs_fork
@pytest.mark.parametrize("make", [L.PidSqliteSeq, L.PerProcessSqliteSeq])
def test_per_process_connections_pass_the_fork_dry_run(db: str, make: Any) -> None:
    """Reopening per pid (by hand or with per_process) passes."""
    assert fork_dry_run(make_ctx(make(db))) == []


@pytest.mark.slow
@needs_fork
@pytest.mark.parametrize(
    ("make", "exit_text"),
    [(L.ExitInWorkerSeq, "exit code 13"), (L.SegfaultInWorkerSeq, "killed by SIGSEGV")],
)
def test_worker_death_names_the_index_and_exit_code(make: Any, exit_text: str) -> None:
    """os._exit or a segfault in a worker: one TSG821 naming index 2 and how it died."""
    found = fork_dry_run(make_ctx(make()))
    assert [(f.code, f.path) for f in found] == [("TSG821", "loader[2]")]
    assert exit_text in found[0].message
    assert found[0].details["index"] == 2


@pytest.mark.slow
@needs_fork
def test_hanging_worker_is_killed_within_the_batch_timeout() -> None:
    """A batch that never returns: TSG801 naming index 2, all probes done in budget."""
    ctx = make_ctx(L.HangInWorkerSeq(), batch_timeout=1.0, timeout=6.0)
    t0 = time.monotonic()
    found = run(ctx)
    elapsed = time.monotonic() - t0
    assert [(f.code, f.path) for f in found if f.code == "TSG801"] == [("TSG801", "loader[2]")]
    assert elapsed < 6.0 + 5.0  # the budget plus reaping, never the 3600 s sleep


@pytest.mark.slow
@needs_fork
def test_peek_that_kills_the_process_is_not_run_in_the_parent() -> None:
    """A loader whose index 0 kills its process is reported (TSG821), pytest survives."""
    loader = L.ExitInWorkerSeq(bad=0)
    loader.creator = -1  # "another process" everywhere, this one included
    found = fork_dry_run(make_ctx(loader))
    assert [(f.code, f.path) for f in found] == [("TSG821", "loader[0]")]
    assert found[0].details["where"] == "parent"


@pytest.mark.slow
@pytest.mark.keras
@needs_fork
def test_keras_pydataset_with_global_rng_repeats_in_forked_workers() -> None:
    """A PyDataset augmenting with np.random: TSG501 and TSG502 (docs/failure-modes.md row 2d)."""
    pytest.importorskip("keras")
    import loaders.processes_keras as K

    ds = K.RandomPyDataset(workers=2, use_multiprocessing=True)
    found = fork_dry_run(make_ctx(ds))
    assert sorted(f.code for f in found) == ["TSG501", "TSG502"]


@pytest.mark.slow
@pytest.mark.keras
@needs_fork
def test_tf_keras_image_data_generator_flow() -> None:
    """flow(): same augmentations in forked workers (7.4), and its lock stops spawn (7.1)."""
    pytest.importorskip("scipy")
    image = pytest.importorskip("tf_keras.preprocessing.image")
    # 32 copies of one gradient image: only the augmentation makes them differ
    x = np.tile(np.arange(64, dtype=np.float32).reshape(1, 8, 8, 1), (32, 1, 1, 1))
    flow = image.ImageDataGenerator(rotation_range=90, horizontal_flip=True).flow(
        x, np.arange(32), batch_size=4, shuffle=False
    )
    inspection = process_inspection(make_ctx(flow))
    forked = fork_dry_run(make_ctx(flow))
    spawned = spawn_dry_run(make_ctx(flow))
    assert [f.code for f in inspection if f.code != "TSG204"] == ["TSG703"]
    assert {"TSG501", "TSG502"} <= {f.code for f in forked}
    assert [(f.code, f.severity) for f in spawned] == [("TSG101", Severity.WARNING)]
    assert "_thread.lock" in spawned[0].message


@pytest.mark.slow
@needs_fork
def test_budget_running_out_is_not_reported_as_a_hang() -> None:
    """When the check's deadline, not batch_timeout, stops a worker: TSG802, not TSG801."""
    ctx = make_ctx(L.HangInWorkerSeq(), batch_timeout=30.0, timeout=2.0)
    t0 = time.monotonic()
    found = fork_dry_run(ctx)
    elapsed = time.monotonic() - t0
    assert [(f.code, f.path) for f in found] == [("TSG802", "forked dry run")]
    assert elapsed < 2.0 + 5.0


@pytest.mark.slow
@needs_fork
def test_shared_file_offset_gives_wrong_rows_in_forked_workers(tmp_path: Path) -> None:
    """One descriptor, seek + read in 2 forked workers: TSG203 for silently different data."""
    loader = L.SharedOffsetFileSeq(L.make_rows_file(str(tmp_path / "rows.bin")))
    try:
        found = fork_dry_run(make_ctx(loader))
    finally:
        loader.close()
    assert [f.code for f in found] == ["TSG203"]
    assert found[0].details["different"] >= 1
    assert "other data" in found[0].message


@pytest.mark.slow
@needs_fork
def test_handle_is_an_error_only_when_the_fork_dry_run_fails(db: str) -> None:
    """TSG201 after the fork dry run: error for a failing loader, warning for a per-pid one."""
    probes = [fork_dry_run, process_inspection]
    failing = by_code(run(make_ctx(L.SqliteInInitSeq(db)), probes), "TSG201")
    per_pid = by_code(run(make_ctx(L.PidSqliteSeq(db)), probes), "TSG201")
    assert [(f.path, f.severity) for f in failing] == [("loader.conn", Severity.ERROR)]
    assert [(f.path, f.severity) for f in per_pid] == [("loader._conn", Severity.WARNING)]
    assert "fork dry run passed" in per_pid[0].message


@pytest.mark.slow
@needs_fork
@settings(max_examples=8)
@given(
    n=st.integers(min_value=1, max_value=12),
    batch=st.integers(min_value=1, max_value=5),
    features=st.lists(st.integers(min_value=1, max_value=3), max_size=2).map(tuple),
    dtype=st.sampled_from(["float32", "int16", "uint8"]),
)
def test_any_pure_loader_passes_the_fork_dry_run(
    n: int, batch: int, features: tuple[int, ...], dtype: str
) -> None:
    """For any length, batch size, shape and dtype, a pure loader gives no fork finding."""
    assert fork_dry_run(make_ctx(L.ShapedSeq(n, batch, features, dtype))) == []


@pytest.mark.slow
@needs_fork
def test_lock_held_by_a_thread_at_fork_hangs_workers_and_is_explained() -> None:
    """A raw lock held by another thread at fork: TSG801 that names the lock and the thread."""
    loader = L.HeldLockSeq()
    holder = threading.Thread(target=loader.hold, name="refresher", daemon=True)
    holder.start()
    loader.taken.wait(5)
    try:
        found = fork_dry_run(make_ctx(loader, batch_timeout=1.0))
    finally:
        loader.stop.set()
        holder.join(5)
    assert [(f.code, f.path) for f in found] == [("TSG801", "loader[0]")]
    assert (found[0].details["lock"], found[0].details["threads"]) == ("loader.lock", ["refresher"])
    assert "threadsafe_gen.Lock" in found[0].hint


@pytest.mark.slow
@needs_fork
def test_worker_errors_are_reported_when_the_loader_is_unsafe_in_process() -> None:
    """check_loader found in-process calls unsafe: worker exceptions become TSG822 findings."""
    ctx = make_ctx(L.DropsStateSeq())
    ctx.state.inprocess_unsafe = "loader[5] hung in this process"
    ctx.loader.table.pop(2)  # index 2 raises KeyError, in every process
    found = fork_dry_run(ctx)
    assert [(f.code, f.path) for f in found] == [("TSG822", "loader[2]")]
    assert found[0].details["exception_type"] == "KeyError"
    assert any("parent calls skipped" in n for n in ctx.state.notes)


class _EchoServer:
    """A tiny request/reply service on a socket pair: one request per call, in this thread."""

    def __init__(self) -> None:
        import socket

        self.client, self._server = socket.socketpair()
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, name="echo-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while data := self._server.recv(64):
            self.requests += 1
            self._server.sendall(data)

    def close(self) -> None:
        self.client.close()
        self._thread.join(5)
        self._server.close()


class _ServiceSeq(L.PureSeq):
    """Fetches each batch's offset from a service over one connection opened in __init__."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.conn = client

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        self.conn.sendall(bytes([index]))
        reply = self.conn.recv(64)
        if not reply:
            raise ConnectionError("the service closed the connection")
        x, y = L.batch_for(reply[0])
        return x, y


@pytest.mark.slow
@needs_fork
def test_connection_shared_with_forked_workers_is_found_for_certain() -> None:
    """The canary sees a call send on the inherited socket: TSG203 and TSG201 errors on every
    run, and no forked process ever talks to the service (docs/failure-modes.md row 2b)."""
    server = _EchoServer()
    try:
        for _ in range(3):
            loader = _ServiceSeq(server.client)
            report = check_loader(
                loader,
                workers=2,
                use_multiprocessing=True,
                start_method="fork",
                probes=["sequential", "fork_dry_run", "process_inspection"],
            )
            found = {(f.code, f.severity) for f in report.findings}
            assert {("TSG203", Severity.ERROR), ("TSG201", Severity.ERROR)} <= found
            shared = by_code(report.findings, "TSG203")[0]
            assert "socket inherited from this process (loader.conn)" in shared.message
        requests = server.requests
        loader[0]  # the connection still works: no child desynchronised it
        assert server.requests == requests + 1
    finally:
        server.close()


@pytest.mark.slow
@needs_fork
def test_shared_file_offset_is_found_for_certain(tmp_path: Path) -> None:
    """Seek + read on a descriptor opened in __init__: the canary sees a forked copy move its
    offset, so TSG203 comes on every run, and this process's offset is never moved by it."""
    loader = L.SharedOffsetFileSeq(L.make_rows_file(str(tmp_path / "rows.bin")))
    try:
        for _ in range(3):
            found = _observed_check(loader)
            (f,) = by_code(found, "TSG203")
            assert f.severity == Severity.ERROR
            assert "moved the offset of descriptor" in f.message
    finally:
        loader.close()


class _ReseedsThenKeyedByIndex:
    """Reseeds numpy's global RNG on every call (as threadsafe_gen.keras.guard does per worker)
    but draws only from rng_for(index): equal across workers by design, not a replay."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> Any:
        np.random.seed(os.getpid() % 2**32)
        x = rng_for(index, epoch=0).normal(size=(4, 1)).astype(np.float32)
        return x, x[:, 0]


def test_a_reseed_alone_is_not_a_draw_from_the_inherited_rng() -> None:
    """Seeding the global RNG changes its state without drawing from what the workers
    inherited: no TSG501 when the numbers come from rng_for (the README quickstart's shape)."""
    report = check_loader(
        _ReseedsThenKeyedByIndex(),
        workers=2,
        use_multiprocessing=True,
        start_method="fork",
        probes=["sequential", "fork_dry_run"],
    )
    assert "TSG501" not in report.codes()


class _MetricsSeq(L.PureSeq):
    """Sends one metrics datagram per call over a socket opened in __init__ (statsd style)."""

    def __init__(self, sock: Any) -> None:
        super().__init__()
        self.metrics = sock

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        self.metrics.send(b"batches:1|c")
        return L.batch_for(index)


@pytest.mark.slow
@needs_fork
def test_datagram_socket_shared_with_workers_is_not_a_shared_connection() -> None:
    """Whole datagrams from several processes do not interleave: no TSG203 for them."""
    import socket

    ours, sink = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        found = _observed_check(_MetricsSeq(ours))
    finally:
        ours.close()
        sink.close()
    assert "TSG203" not in {f.code for f in found}


class _CounterSeeded(L.PureSeq):
    """Seeds numpy's global RNG from a batch counter it keeps, as ImageDataGenerator's
    iterators do (``seed + total_batches_seen``): every forked worker copies the counter."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        np.random.seed(7 + self.seen)
        self.seen += 1
        x, y = L.batch_for(index)
        return x + np.random.normal(size=x.shape).astype(np.float32), y


@threadsafe_gen.keras.guard
class _GuardedRngFor(L.RngForSeq):
    """The README's recipe: guard() reseeds the global RNGs per worker, rng_for keys the
    augmentation on (index, epoch): the same noise whichever worker computes an index."""


@pytest.mark.slow
@needs_fork
def test_seed_from_a_copied_counter_repeats_in_forked_workers() -> None:
    """Reseeded every call, but from a counter each forked worker copies: TSG501 (item 4 keeps
    it: seeds that depend on call history are not per-index keys)."""
    found = [f for f in _observed_check(_CounterSeeded()) if f.code.startswith("TSG5")]
    assert "TSG501" in {f.code for f in found}
    assert "a counter, not the index" in by_code(found, "TSG501")[0].message


@pytest.mark.slow
@needs_fork
def test_reseeding_per_worker_with_index_keyed_noise_is_clean() -> None:
    """guard() reseeds numpy's global RNG in each worker (its state is then not the parent's),
    and rng_for(index, epoch) gives every worker the same noise for an index: nothing."""
    assert [f.code for f in _observed_check(_GuardedRngFor()) if f.code.startswith("TSG5")] == []
