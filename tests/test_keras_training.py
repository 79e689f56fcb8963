"""The issue-2 proof: real Keras 3 training with per_process SQLite and rng_for, workers=4.

Threads run in this process; each multiprocessing start method (fork, spawn, forkserver) runs
in its own subprocess that sets it first (Keras uses multiprocessing's default context). The
three subprocesses start together to save wall time. The model records the rows it trains on
(tests/loaders/training.py: a Recorder layer, run_eagerly=True), so every count below is what the
model saw, not what the loader claims it produced.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import threadsafe_gen as tsg

pytest.importorskip("keras")

pytestmark = [pytest.mark.slow, pytest.mark.keras]

TESTS = Path(__file__).parent
METHODS = ["fork", "spawn", "forkserver"]
N_SAMPLES, EPOCHS, SEED = 64, 2, 20_240_601  # as in tests/loaders/training.py


def session_pids(sid: int) -> list[int]:
    """Pids of live (non-zombie) processes in session sid, read from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry))
    return pids


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real SQLite file with the 64 samples."""
    import loaders.training as training

    path = str(tmp_path_factory.mktemp("keras_db") / "samples.sqlite")
    training.make_db(path)
    return path


#: A run that should hang is declared hung once it outlives the matching run by this much.
HANG_MARGIN = 45.0
#: The raw-lock run is measured against the same workload with our lock.
PAIRED = {"held threading.Lock": "held threadsafe_gen.Lock"}
HELD_LOCK_RUNS = {
    "held threadsafe_gen.Lock": "threadsafe_gen.Lock",
    "held threading.Lock": "threading.Lock",
}


@pytest.fixture(scope="module")
def process_runs(
    db_path: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Train once per start method (and the held-lock pair under fork), each in its own session.

    All runs start together; their output goes to files (a full pipe would stall a run and
    fake a hang). The raw-lock run is killed with its whole session once it has run
    HANG_MARGIN seconds longer than the same workload with our lock, and reported as "hung"
    with the seconds it ran; any run is killed that way after 600 s.
    """
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    code = "import loaders.training as training; training.main()"
    commands = {method: [method, db_path, "4"] for method in METHODS}
    commands.update({name: ["fork", db_path, "4", kind] for name, kind in HELD_LOCK_RUNS.items()})
    logs = tmp_path_factory.mktemp("keras_runs")
    outputs = {name: (logs / f"{n}.out", logs / f"{n}.err") for n, name in enumerate(commands)}
    start = time.monotonic()
    procs = {}
    for name, args in commands.items():
        out_path, err_path = outputs[name]
        with out_path.open("w") as out, err_path.open("w") as err:
            procs[name] = subprocess.Popen(
                [sys.executable, "-c", code, *args],
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,  # its own session: we can find and kill every worker
            )
    ended: dict[str, float] = {}
    while len(ended) < len(procs):
        now = time.monotonic()
        for name, proc in procs.items():
            if name not in ended and proc.poll() is not None:
                ended[name] = now
        for name in [n for n in procs if n not in ended]:
            pair = PAIRED.get(name)
            if now - start > 600 or (pair in ended and now - ended[pair] > HANG_MARGIN):
                os.killpg(procs[name].pid, signal.SIGKILL)
                procs[name].wait()
                ended[name] = -(now - start)  # negative: killed after that many seconds
        time.sleep(0.2)
    results: dict[str, dict[str, Any]] = {}
    for name, proc in procs.items():
        stdout, stderr = (path.read_text() for path in outputs[name])
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if ended[name] < 0:
            results[name] = {"error": "hung", "seconds": round(-ended[name], 1)}
        elif proc.returncode != 0 or not lines:
            results[name] = {"error": f"exit {proc.returncode}; stderr tail: {stderr[-2000:]}"}
        else:
            results[name] = json.loads(lines[-1])
            results[name]["seconds"] = round(ended[name] - start, 1)
        results[name]["leftover"] = session_pids(proc.pid)
    return results


@pytest.fixture(scope="module")
def thread_run(db_path: str) -> dict[str, Any]:
    """Train with workers=4 threads in this process."""
    import loaders.training as training

    return training.train(db_path, 4, use_multiprocessing=False)


def test_per_thread_sqlite_works_with_keras_thread_hops(db_path: str) -> None:
    """A per_thread default SQLite connection survives Keras' spec peek on the main thread."""
    import loaders.training as training

    check_run(
        training.train(db_path, 4, use_multiprocessing=False, per_thread=True), in_parent=True
    )


def check_run(result: dict[str, Any], *, in_parent: bool) -> dict[tuple[int, int], float]:
    """Assert the exactly-once and augmentation properties of one run; return (epoch, id) -> aug."""
    assert "error" not in result, result.get("error")
    assert result["steps"] == 8 * EPOCHS
    augs: dict[tuple[int, int], float] = {}
    epoch_values = []
    for rows in result["rows"]:
        ids = [int(r[0]) for r in rows]
        assert Counter(range(N_SAMPLES)) == Counter(ids)  # every id exactly once this epoch
        assert [3 * i + 1 for i in ids] == [int(r[2]) for r in rows]  # read from SQLite
        epochs = {int(r[4]) for r in rows}
        assert len(epochs) == 1  # no batch computed with a stale epoch
        epoch = epochs.pop()
        epoch_values.append(epoch)
        for i, aug in zip(ids, (r[1] for r in rows), strict=True):
            augs[(epoch, i)] = aug
        pids = {int(r[3]) for r in rows}
        assert in_parent == (pids == {result["parent_pid"]})
    assert len(set(epoch_values)) == EPOCHS  # the dataset saw a new epoch each time
    expected = {(e, i): tsg.rng_for(i, e, seed=SEED).random() for e, i in augs}
    assert expected == augs
    first, second = epoch_values
    assert all(augs[(first, i)] != augs[(second, i)] for i in range(N_SAMPLES))
    return augs


def test_threads_see_every_sample_once_per_epoch(thread_run: dict[str, Any]) -> None:
    """workers=4 threads: every id once per epoch, SQLite values, rng_for augmentation per epoch."""
    augs = check_run(thread_run, in_parent=True)
    assert len(augs) == 2 * N_SAMPLES


@pytest.mark.parametrize("method", METHODS)
def test_processes_see_every_sample_once_per_epoch(
    process_runs: dict[str, dict[str, Any]], method: str
) -> None:
    """workers=4 processes under each start method: the same guarantees, no worker left behind."""
    result = process_runs[method]
    augs = check_run(result, in_parent=False)
    assert (method, 2 * N_SAMPLES, []) == (result["start_method"], len(augs), result["leftover"])


def test_augmentation_is_identical_across_threads_and_start_methods(
    thread_run: dict[str, Any], process_runs: dict[str, dict[str, Any]]
) -> None:
    """The augmentation of each (epoch, id) is the same whichever worker kind produced it."""
    runs = [thread_run, *(process_runs[m] for m in METHODS)]
    tables = [
        sorted((int(r[4]), int(r[0]), r[1]) for rows in run["rows"] for r in rows)
        for run in runs
        if "error" not in run
    ]
    assert len(runs) == len(tables)
    assert all(tables[0] == table for table in tables[1:])


def test_lock_held_by_another_thread_at_fork_does_not_hang_keras(
    process_runs: dict[str, dict[str, Any]],
) -> None:
    """A refresher thread holding the lock at fork: fit completes with ours, hangs with threading's."""
    ours = process_runs["held threadsafe_gen.Lock"]
    raw = process_runs["held threading.Lock"]
    assert "error" not in ours, ours.get("error")
    assert Counter(range(N_SAMPLES)) == Counter(int(r[0]) for r in ours["rows"][0])
    assert (raw.get("error"), raw["leftover"], ours["leftover"]) == ("hung", [], [])


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_check_loader_finds_nothing_wrong(db_path: str, use_multiprocessing: bool) -> None:
    """check_loader() reports no error or warning for the per_process + rng_for loader (threads, fork)."""
    import loaders.training as training

    ds = training.SqliteAugmentedChecked(
        db_path, workers=4, use_multiprocessing=use_multiprocessing
    )
    ds[0]  # opened in the parent first, as Keras' spec peek does
    report = tsg.check_loader(ds, start_method="fork")
    assert (report.errors, report.warnings) == ([], []), str(report)
