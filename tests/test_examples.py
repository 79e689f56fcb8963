"""Every example runs as a script, trains 2 epochs and sees every sample id exactly once per epoch.

Examples start worker processes and import TensorFlow, so each runs in its own interpreter
with a timeout, in a process group killed afterwards (tests/helpers/examples.py); the test
checks the script's own exactly-once report and that it left no shared-memory segment behind.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from threadsafe_gen import REGISTRY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, EXAMPLES)

import problem_loaders  # noqa: E402
from helpers import examples  # noqa: E402
from helpers import postgres as pg  # noqa: E402
from helpers.examples import assert_epochs_exactly_once, run_example  # noqa: E402


@pytest.mark.slow
@pytest.mark.keras
def test_sqlite_sequence_with_forked_workers() -> None:
    """SQLite PyDataset with per_process connections, 2 forked workers: each id once per epoch."""
    out = run_example("sqlite_sequence.py", "--start-method", "fork")
    assert "workers=2 (fork)" in out
    assert_epochs_exactly_once(out)


@pytest.mark.slow
@pytest.mark.keras
def test_file_list_with_thread_workers() -> None:
    """File-list PyDataset with per_thread handles, 4 worker threads: each id once per epoch."""
    out = run_example("file_list.py")
    assert "workers=4 threads" in out
    assert_epochs_exactly_once(out)


@pytest.mark.slow
@pytest.mark.keras
def test_threadsafe_generator_keras3_and_tf_keras() -> None:
    """@threadsafe_generator with 4 threads: exact epochs in Keras 3 and tf_keras, no error on the classic path."""
    out = run_example("threadsafe_generator.py")
    assert_epochs_exactly_once(out, times=2)
    assert "no error, every batch intact" in out


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_image_augmentation_with_shared_array(method: str) -> None:
    """Pillow augmentation over a SharedArray with rng_for, 2 process workers: each id once per epoch."""
    out = run_example("image_augmentation.py", "--start-method", method)
    assert f"workers=2 ({method})" in out
    assert_epochs_exactly_once(out)
    assert "rng_for: reproducible=True, differs next epoch=True" in out


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    """A running PostgreSQL server (installed and started by tests/helpers/postgres.py when needed)."""
    try:
        with pg.postgres_server() as dsn:
            yield dsn
    except pg.PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL is not available: {exc}")


@pytest.mark.slow
@pytest.mark.keras
def test_postgres_sequence_with_forked_workers(postgres_dsn: str) -> None:
    """PostgreSQL PyDataset with per_process connections, 2 forked workers: each id once per epoch."""
    out = run_example("postgres_sequence.py", "--dsn", postgres_dsn, "--start-method", "fork")
    assert_epochs_exactly_once(out)


@pytest.mark.slow
def test_postgres_server_starts_and_stops() -> None:
    """tests/helpers/postgres.py starts a real server that answers queries, and stops it afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        with pg.postgres_server() as dsn, psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
    except pg.PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL is not available: {exc}")
    if "TSG_PG_DSN" not in os.environ:
        port = int(re.search(r"port=(\d+)", dsn).group(1))  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _port_open(port):
            time.sleep(0.1)
        assert not _port_open(port)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_problem_cases_expect_registered_codes() -> None:
    """Every code a problem case expects exists in the registry, and case names are unique."""
    names = [case.name for case in problem_loaders.CASES]
    assert len(names) == len(set(names))
    unknown = {code for case in problem_loaders.CASES for code in case.expect} - set(REGISTRY)
    assert unknown == set()


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.timeout(480)  # above the script's own 420 s, so a hang is reported with its output
def test_check_examples_finds_every_problem_and_passes_the_good_examples() -> None:
    """The README's main job: check_loader finds each reported problem, the good examples are clean."""
    out = run_example("check_examples.py", timeout=420)
    total = len(problem_loaders.CASES) + 4  # 4 good examples without PostgreSQL
    assert f"{total}/{total} as expected" in out, out[-4000:]
    for case in problem_loaders.CASES:
        assert re.search(rf"^{case.name}\s.*\bok$", out, re.MULTILINE), case.name


HANGS_WITH_A_WORKER = """
import multiprocessing, time
if __name__ == "__main__":
    multiprocessing.get_context("fork").Process(target=time.sleep, args=(600,)).start()
    print("started", flush=True)
    time.sleep(600)
"""


class Interrupted(Exception):
    """What pytest-timeout or Ctrl-C raise in the waiting test, stood in for by SIGUSR1."""


def _processes_running(script: Path) -> list[int]:
    """Live processes whose command line names `script` (a zombie's is empty)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if str(script).encode() in f.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_interrupted_wait_kills_the_example_and_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When something else ends the wait (pytest-timeout, Ctrl-C: here a signal whose handler
    raises), run_example kills the script and its worker process: no orphan outlives the test."""
    script = tmp_path / "hangs_with_a_worker.py"
    script.write_text(HANGS_WITH_A_WORKER)
    monkeypatch.setattr(examples, "EXAMPLES", str(tmp_path))

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGUSR1))
    timer.start()
    try:
        with pytest.raises(Interrupted):
            run_example(script.name, timeout=120)
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
    deadline = time.monotonic() + 10
    while _processes_running(script) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_running(script) == []
