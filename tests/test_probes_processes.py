"""Process probes of check_loader(): inspection, fork and spawn dry runs (issue 3).

Loaders live in tests/loaders_proc.py (spawned children import them by name). Loaders that
crash or hang do so only in child processes, so a probe bug cannot take pytest down; every
test checks that no child process is left behind.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import loaders_proc as L
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import threadsafe_gen
from threadsafe_gen._findings import Finding, Severity
from threadsafe_gen._probes import ProbeContext
from threadsafe_gen._probes import processes as P
from threadsafe_gen._probes._child import Payload, fingerprint

FORK = "fork" in multiprocessing.get_all_start_methods()
needs_fork = pytest.mark.skipif(not FORK, reason="fork start method not available")


def make_ctx(loader: Any, **kw: Any) -> ProbeContext:
    """A ProbeContext as check_loader() builds it: 2 fork workers, 2 s per batch."""
    kind = kw.pop("kind", "sequence")
    settings: dict[str, Any] = {
        "loader": loader,
        "kind": kind,
        "workers": 2,
        "use_multiprocessing": True,
        "start_method": "fork",
        "indices": list(range(len(loader))) if kind == "sequence" else [],
        "make_iterator": None,
        "max_batches": 64,
        "batch_timeout": 5.0,
        "deadline": time.monotonic() + 60.0,
    }
    timeout = kw.pop("timeout", None)
    settings.update(kw)
    if timeout is not None:
        settings["deadline"] = time.monotonic() + timeout
    return ProbeContext(**settings)


def run(
    ctx: ProbeContext, probes: Sequence[Callable[..., list[Finding]]] | None = None
) -> list[Finding]:
    """Run the process probes (all by default) like check_loader does, in order."""
    found: list[Finding] = []
    for probe in P.PROBES if probes is None else probes:
        found += probe(ctx)
    return found


def by_code(findings: list[Finding], code: str) -> list[Finding]:
    """The findings with *code*."""
    return [f for f in findings if f.code == code]


def _child_pids() -> set[int]:
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        try:
            pids.update(int(p) for p in task.read_text().split())
        except OSError:
            continue
    return pids


def _helper_pids() -> set[int]:
    """multiprocessing's own long-lived helpers (resource tracker, forkserver server)."""
    from multiprocessing import forkserver, resource_tracker

    pids = {
        getattr(resource_tracker._resource_tracker, "_pid", None),
        getattr(forkserver._forkserver, "_forkserver_pid", None),
    }
    return {p for p in pids if p is not None}


@pytest.fixture(autouse=True)
def no_orphans() -> Iterator[None]:
    """Every child process started by a probe is reaped by the time it returns."""
    before = _child_pids()
    yield
    assert multiprocessing.active_children() == []
    assert set() == _child_pids() - before - _helper_pids()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real SQLite file with 32 ids."""
    return L.make_db(str(tmp_path_factory.mktemp("db") / "rows.db"))


# --- the child-side helpers ------------------------------------------------------------------


def test_fingerprint_depends_on_content_not_identity() -> None:
    """Equal batches give equal digests; dtype, shape and values all count."""
    a = (np.arange(6, dtype=np.float32).reshape(2, 3), {"w": [1, 2]})
    b = (np.arange(6, dtype=np.float32).reshape(2, 3), {"w": [1, 2]})
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint((a[0].astype(np.float64), a[1]))
    assert fingerprint(a) != fingerprint((a[0].reshape(3, 2), a[1]))
    assert fingerprint(a) != fingerprint((a[0] + 1, a[1]))


def test_payload_defers_unpickling_to_the_child() -> None:
    """A Payload pickles the loader as bytes and unpickles it only when asked."""
    loader = L.PureSeq(3)
    restored = pickle.loads(pickle.dumps(Payload(loader)))
    assert restored.data is not None
    assert len(restored.load()) == 3


# --- inspection (no child process) ----------------------------------------------------------


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
        walk = P._walk(loader)
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
        forked = by_code(P.process_inspection(make_ctx(loader)), "TSG201")
        threads = by_code(
            P.process_inspection(make_ctx(loader, use_multiprocessing=False)), "TSG201"
        )
    finally:
        loader.close()
    expected = ["loader.files[0]", "loader.net['peer']", "loader.net['sock']"]
    assert expected == sorted(f.path for f in forked)
    assert {Severity.ERROR} == {f.severity for f in forked}
    assert {Severity.WARNING} == {f.severity for f in threads}


def test_pure_loader_and_per_process_resources_are_not_flagged(db: str) -> None:
    """No handle, lock or RNG finding for a pure loader or one using per_process/Lock/rng_for."""
    for loader in (L.PureSeq(), L.PerProcessSqliteSeq(db), L.RngForSeq()):
        _ = loader[0]  # opens this process's connection, as Keras' peek would
        found = P.process_inspection(make_ctx(loader))
        assert [f.code for f in found if f.code != "TSG204"] == []


def test_rng_objects_on_the_loader() -> None:
    """TSG503 names loader.aug['rng']: warning with process workers, info with threads."""
    loader = L.RngOnSelfSeq()
    procs = by_code(P.process_inspection(make_ctx(loader)), "TSG503")
    threads = by_code(P.process_inspection(make_ctx(loader, use_multiprocessing=False)), "TSG503")
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
            flagged = by_code(P.process_inspection(make_ctx(raw)), "TSG202")
            safe = by_code(P.process_inspection(make_ctx(ours)), "TSG202")
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
        forked = by_code(P.process_inspection(make_ctx(loader)), "TSG202")
        threads = by_code(
            P.process_inspection(make_ctx(loader, use_multiprocessing=False)), "TSG202"
        )
    assert [(f.details["held"], f.severity) for f in forked] == [(True, Severity.ERROR)]
    assert [f.severity for f in threads] == [Severity.WARNING]


def test_multithreaded_fork_is_reported_only_when_workers_fork() -> None:
    """TSG204 (info) counts this process's threads when the workers fork, not with threads."""
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="busy", daemon=True)
    t.start()
    try:
        forked = by_code(P.process_inspection(make_ctx(L.PureSeq())), "TSG204")
        threads = by_code(
            P.process_inspection(make_ctx(L.PureSeq(), use_multiprocessing=False)), "TSG204"
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
    found = by_code(P.process_inspection(ctx), "TSG402")
    assert [f.severity for f in found] == [Severity.ERROR]
    assert found[0].details["refused"] == "threadsafe_gen.errors.CopiedIteratorError"
    assert "instead of duplicating every item" in found[0].message


def test_started_threadsafe_iter_loader_is_reported_as_refused_without_a_child() -> None:
    """A threadsafe_iter loader cannot be copied to measure: TSG402 still says copies refuse."""
    loader = threadsafe_gen.threadsafe_iter(L.gen_batches())
    found = by_code(P.process_inspection(make_ctx(loader, kind="generator")), "TSG402")
    assert [f.severity for f in found] == [Severity.ERROR]
    assert found[0].details == {
        "factor": 2,
        "refused": "threadsafe_gen.errors.CopiedIteratorError",
    }


def test_generator_with_threads_warns_and_one_worker_is_fine() -> None:
    """TSG402 is a warning with worker threads and absent with workers=1 (no child needed)."""
    gen = L.gen_batches()
    threads = by_code(
        P.process_inspection(make_ctx(gen, kind="generator", use_multiprocessing=False)),
        "TSG402",
    )
    single = by_code(P.process_inspection(make_ctx(gen, kind="generator", workers=1)), "TSG402")
    assert [f.severity for f in threads] == [Severity.WARNING]
    assert single == []


# --- fork dry run -----------------------------------------------------------------------------


@pytest.mark.slow
@needs_fork
def test_pure_loader_gives_no_fork_findings() -> None:
    """A pure duck-typed Sequence: the fork dry run finds nothing."""
    assert P.fork_dry_run(make_ctx(L.PureSeq())) == []


@pytest.mark.slow
@needs_fork
def test_global_rng_repeats_across_workers_and_epochs() -> None:
    """np.random in __getitem__: TSG501 and TSG502, errors when the workers fork."""
    found = P.fork_dry_run(make_ctx(L.GlobalRandomSeq()))
    assert sorted(f.code for f in found) == ["TSG501", "TSG502"]
    assert {Severity.ERROR} == {f.severity for f in found}
    same = by_code(found, "TSG501")[0].details
    assert same["identical"] == same["compared"]


@pytest.mark.slow
@needs_fork
def test_rng_on_loader_repeats_but_is_only_a_warning_with_threads() -> None:
    """A Generator on the loader repeats in forked workers: a warning when workers are threads."""
    found = P.fork_dry_run(make_ctx(L.RngOnSelfSeq(), use_multiprocessing=False))
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
    """stdlib random (reseeded after fork), index-keyed RNGs and guard(): no finding."""
    assert P.fork_dry_run(make_ctx(loader)) == []


@pytest.mark.slow
@needs_fork
def test_sqlite_connection_from_init_fails_in_forked_worker(db: str) -> None:
    """sqlite3.connect() in __init__: TSG203 with the ProgrammingError's traceback."""
    found = P.fork_dry_run(make_ctx(L.SqliteInInitSeq(db)))
    assert [f.code for f in found] == ["TSG203"]
    details = found[0].details
    assert details["exception_type"] == "sqlite3.ProgrammingError"
    assert "Traceback" in details["traceback"]
    assert details["failed_indices"] == [0, 1, 2, 5, 7]


@pytest.mark.slow
@needs_fork
def test_lazy_connection_without_pid_check_fails_in_forked_worker(db: str) -> None:
    """A connection opened lazily by the parent's peek is inherited: TSG203 (2b')."""
    found = P.fork_dry_run(make_ctx(L.LazySqliteSeq(db)))
    assert [(f.code, f.path) for f in found] == [("TSG203", "loader[0]")]


@pytest.mark.slow
@needs_fork
@pytest.mark.parametrize("make", [L.PidSqliteSeq, L.PerProcessSqliteSeq])
def test_per_process_connections_pass_the_fork_dry_run(db: str, make: Any) -> None:
    """Reopening per pid (by hand or with per_process) passes."""
    assert P.fork_dry_run(make_ctx(make(db))) == []


@pytest.mark.slow
@needs_fork
@pytest.mark.parametrize(
    ("make", "exit_text"),
    [(L.ExitInWorkerSeq, "exit code 13"), (L.SegfaultInWorkerSeq, "killed by SIGSEGV")],
)
def test_worker_death_names_the_index_and_exit_code(make: Any, exit_text: str) -> None:
    """os._exit or a segfault in a worker: one TSG821 naming index 2 and how it died."""
    found = P.fork_dry_run(make_ctx(make()))
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
    found = P.fork_dry_run(make_ctx(loader))
    assert [(f.code, f.path) for f in found] == [("TSG821", "loader[0]")]
    assert found[0].details["where"] == "parent"


# --- spawn / forkserver dry run ------------------------------------------------------------


@pytest.mark.slow
def test_pure_loader_spawn_measures_start_cost_when_spawn_is_planned() -> None:
    """A pure loader under spawn: only TSG702 info, with the measured seconds per worker."""
    found = P.spawn_dry_run(make_ctx(L.PureSeq(), start_method="spawn", workers=4))
    assert [(f.code, f.severity) for f in found] == [("TSG702", Severity.INFO)]
    assert found[0].details["seconds_per_worker"] > 0
    assert found[0].details["workers"] == 4


@pytest.mark.slow
def test_state_dropped_by_getstate_fails_after_unpickling() -> None:
    """__getstate__ drops what __getitem__ needs: TSG104 error under spawn, with traceback."""
    found = P.spawn_dry_run(make_ctx(L.DropsStateSeq(), start_method="spawn"))
    codes = [(f.code, f.severity) for f in found if f.code != "TSG702"]
    assert codes == [("TSG104", Severity.ERROR)]
    assert found[0].details["exception_type"] == "AttributeError"
    assert "table" in found[0].details["traceback"]


@pytest.mark.slow
def test_state_rebuilt_in_setstate_serves_other_data() -> None:
    """__setstate__ reshuffles: the worker serves other data (TSG104), a warning under fork."""
    found = by_code(P.spawn_dry_run(make_ctx(L.ReshuffledOnUnpickleSeq())), "TSG104")
    assert [(f.path, f.severity) for f in found] == [("loader[0]", Severity.WARNING)]
    assert "different data" in found[0].message


@pytest.mark.slow
def test_local_class_cannot_be_sent_unless_the_pickling_probe_reported_it() -> None:
    """A class defined in a function: TSG102; skipped with a note after the pickling walk."""
    loader = L.make_local_class_loader()
    alone = P.spawn_dry_run(make_ctx(loader, start_method="spawn"))
    ctx = make_ctx(loader, start_method="spawn")
    ctx.shared["unpicklable"] = ["reported by the pickling probe"]
    after_walk = P.spawn_dry_run(ctx)
    assert [(f.code, f.severity) for f in alone] == [("TSG102", Severity.ERROR)]
    assert after_walk == []
    assert any("pickling probe" in n for n in ctx.shared[P.NOTES_KEY])


@pytest.mark.slow
def test_class_the_child_cannot_import_is_reported_from_the_child() -> None:
    """A class from a module that exists only in this process: TSG102 with the child's error."""
    module = types.ModuleType("tsg_ephemeral_loaders")
    exec(
        "import loaders_proc\nclass Ephemeral(loaders_proc.PureSeq):\n    pass\n",
        module.__dict__,
    )
    sys.modules[module.__name__] = module
    try:
        found = P.spawn_dry_run(make_ctx(module.Ephemeral(), start_method="spawn"))
    finally:
        del sys.modules[module.__name__]
    assert [(f.code, f.severity) for f in found] == [("TSG102", Severity.ERROR)]
    assert "ModuleNotFoundError" in found[0].details["exception_type"]


@pytest.mark.slow
def test_per_process_connection_passes_spawn(db: str) -> None:
    """per_process drops the connection when pickled; the spawned worker opens its own."""
    loader = L.PerProcessSqliteSeq(db)
    _ = loader[0]
    found = P.spawn_dry_run(make_ctx(loader, start_method="spawn"))
    assert [f.code for f in found if f.code != "TSG702"] == []


@pytest.mark.slow
@needs_fork
def test_spawn_does_not_repeat_a_crash_the_fork_run_reported() -> None:
    """One TSG821 for a loader that dies in every worker, not one per probe."""
    found = run(make_ctx(L.ExitInWorkerSeq()))
    assert [f.path for f in by_code(found, "TSG821")] == ["loader[2]"]


@pytest.mark.slow
@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver"
)
def test_forkserver_planned_uses_forkserver() -> None:
    """With start_method='forkserver' the child is started by the forkserver."""
    found = P.spawn_dry_run(make_ctx(L.DropsStateSeq(), start_method="forkserver"))
    assert [f.details["start_method"] for f in by_code(found, "TSG104")] == ["forkserver"]


@pytest.mark.slow
def test_unguarded_main_script_is_reported(tmp_path: Path) -> None:
    """A script without a __main__ guard: the spawned child re-runs it; TSG102 on __main__."""
    script = tmp_path / "train.py"
    tests_dir = Path(__file__).parent
    script.write_text(
        "import sys, json, time\n"
        f"sys.path.insert(0, {str(tests_dir)!r})\n"
        "import loaders_proc as L\n"
        "from threadsafe_gen._probes import ProbeContext\n"
        "from threadsafe_gen._probes import processes as P\n"
        "ctx = ProbeContext(L.PureSeq(), 'sequence', 2, True, 'spawn', list(range(8)), None,\n"
        "                   64, 5.0, time.monotonic() + 60)\n"
        "found = P.spawn_dry_run(ctx)\n"
        "print(json.dumps([[f.code, f.path] for f in found if f.code != 'TSG702']))\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == '[["TSG102", "__main__"]]'


# --- Keras 3 PyDataset and tf_keras ImageDataGenerator.flow --------------------------------------


@pytest.mark.slow
@pytest.mark.keras
@needs_fork
def test_pure_keras_pydataset_has_no_problem_under_fork_and_spawn() -> None:
    """A pure PyDataset: no error or warning from inspection, fork or spawn; spawn cost measured."""
    pytest.importorskip("keras")
    import loaders_proc_keras as K

    ds = K.PurePyDataset(workers=2, use_multiprocessing=True)
    found = run(make_ctx(ds, start_method="spawn", timeout=90.0))
    assert [(f.code, f.path) for f in found if f.severity is not Severity.INFO] == []
    cost = by_code(found, "TSG702")
    assert [f.details["start_method"] for f in cost] == ["spawn"]
    assert cost[0].details["seconds_per_worker"] > 0


@pytest.mark.slow
@pytest.mark.keras
@needs_fork
def test_keras_pydataset_with_global_rng_repeats_in_forked_workers() -> None:
    """A PyDataset augmenting with np.random: TSG501 and TSG502 (docs/failure-modes.md row 2d)."""
    pytest.importorskip("keras")
    import loaders_proc_keras as K

    ds = K.RandomPyDataset(workers=2, use_multiprocessing=True)
    found = P.fork_dry_run(make_ctx(ds))
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
    inspection = P.process_inspection(make_ctx(flow))
    forked = P.fork_dry_run(make_ctx(flow))
    spawned = P.spawn_dry_run(make_ctx(flow))
    assert [f.code for f in inspection if f.code != "TSG204"] == ["TSG703"]
    assert {"TSG501", "TSG502"} <= {f.code for f in forked}
    assert [(f.code, f.severity) for f in spawned] == [("TSG101", Severity.WARNING)]
    assert "_thread.lock" in spawned[0].message


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
    found = [f for f in P.process_inspection(ctx) if f.code != "TSG204"]
    assert [f.code for f in found] == expected
    assert all("OrderedEnqueuer" in f.message and "5 s" in f.message for f in found)


@pytest.mark.keras
def test_tf_keras_on_epoch_end_called_twice_is_a_warning_when_overridden() -> None:
    """tf_keras calls on_epoch_end mid-epoch too (4.6): a Sequence that reshuffles there is told."""
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
    (f,) = [f for f in P.process_inspection(ctx) if f.code == "TSG703"]
    assert (f.path, f.severity) == ("loader.on_epoch_end", Severity.WARNING)
    assert "twice per epoch" in f.message
    assert "Shuffled overrides on_epoch_end" in f.message


@pytest.mark.keras
def test_keras_3_pydataset_has_no_epoch_stall() -> None:
    """Keras 3 has no OrderedEnqueuer: a PyDataset with workers=2 is not TSG703."""
    pytest.importorskip("keras")
    import loaders_proc_keras as K

    ds = K.RandomPyDataset(workers=2, use_multiprocessing=True)
    assert "TSG703" not in [f.code for f in P.process_inspection(make_ctx(ds))]


@pytest.mark.slow
@needs_fork
def test_budget_running_out_is_not_reported_as_a_hang() -> None:
    """When the check's deadline, not batch_timeout, stops a worker: TSG802, not TSG801."""
    ctx = make_ctx(L.HangInWorkerSeq(), batch_timeout=30.0, timeout=2.0)
    t0 = time.monotonic()
    found = P.fork_dry_run(ctx)
    elapsed = time.monotonic() - t0
    assert [(f.code, f.path) for f in found] == [("TSG802", "forked dry run")]
    assert elapsed < 2.0 + 5.0


@pytest.mark.slow
@needs_fork
def test_shared_file_offset_gives_wrong_rows_in_forked_workers(tmp_path: Path) -> None:
    """One descriptor, seek + read in 2 forked workers: TSG203 for silently different data."""
    loader = L.SharedOffsetFileSeq(L.make_rows_file(str(tmp_path / "rows.bin")))
    try:
        found = P.fork_dry_run(make_ctx(loader))
    finally:
        loader.close()
    assert [f.code for f in found] == ["TSG203"]
    assert found[0].details["different"] >= 1
    assert "other data" in found[0].message


@pytest.mark.slow
@needs_fork
def test_handle_is_an_error_only_when_the_fork_dry_run_fails(db: str) -> None:
    """TSG201 after the fork dry run: error for a failing loader, warning for a per-pid one."""
    probes = [P.fork_dry_run, P.process_inspection]
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
    assert P.fork_dry_run(make_ctx(L.ShapedSeq(n, batch, features, dtype))) == []


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
        paths = sorted(p for p, _ in P._walk(loader).handles)
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
    assert box[0] not in P._other_python_threads()


@pytest.mark.slow
@needs_fork
def test_lock_held_by_a_thread_at_fork_hangs_workers_and_is_explained() -> None:
    """A raw lock held by another thread at fork: TSG801 that names the lock and the thread."""
    loader = L.HeldLockSeq()
    holder = threading.Thread(target=loader.hold, name="refresher", daemon=True)
    holder.start()
    loader.taken.wait(5)
    try:
        found = P.fork_dry_run(make_ctx(loader, batch_timeout=1.0))
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
    ctx.shared[P.INPROCESS_UNSAFE_KEY] = "loader[5] hung in this process"
    ctx.loader.table.pop(2)  # index 2 raises KeyError, in every process
    found = P.fork_dry_run(ctx)
    assert [(f.code, f.path) for f in found] == [("TSG822", "loader[2]")]
    assert found[0].details["exception_type"] == "KeyError"
    assert any("parent calls skipped" in n for n in ctx.shared[P.NOTES_KEY])


def test_walk_skips_objects_made_to_cross_processes(tmp_path: Path) -> None:
    """A multiprocessing queue and a logger with a file handler are not fork hazards."""
    import logging

    log = logging.getLogger("tsg-test-walk")
    handler = logging.FileHandler(tmp_path / "log.txt")
    log.addHandler(handler)
    queue: Any = multiprocessing.get_context("spawn").SimpleQueue()
    try:
        walk = P._walk(types.SimpleNamespace(log=log, queue=queue))
    finally:
        log.removeHandler(handler)
        handler.close()
        queue.close()
    assert (walk.handles, walk.locks) == ([], [])
