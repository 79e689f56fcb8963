"""Every example runs as a script, trains 2 epochs and sees every sample id exactly once per epoch.

Examples start worker processes and import TensorFlow, so each runs in its own interpreter
with a timeout; the test then checks the script's own exactly-once report, that it left no
shared-memory segment behind and that its worker processes are gone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from threadsafe_gen import REGISTRY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, EXAMPLES)

import problem_loaders  # noqa: E402
from helpers import postgres as pg  # noqa: E402

EXACTLY_ONCE = [
    "epoch 0: 64/64 sample ids, each exactly once",
    "epoch 1: 64/64 sample ids, each exactly once",
]


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def run_example(
    script: str, *args: str, timeout: float = 240, env: dict[str, str] | None = None
) -> str:
    """Run examples/<script> with this Python; return stdout; fail with its stderr if it fails."""
    proc = subprocess.Popen(
        [sys.executable, os.path.join(EXAMPLES, script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for child in children_of(proc.pid):
            os.kill(child, 9)
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{script} {args} did not finish in {timeout} s\n{out}\n{err[-3000:]}")
    assert proc.returncode == 0, f"{script} {args} exited {proc.returncode}\n{out}\n{err[-3000:]}"
    leaked = (
        [e for e in os.listdir("/dev/shm") if e.startswith(f"tsg_{proc.pid}_")]
        if os.path.isdir("/dev/shm")
        else []
    )
    assert leaked == []
    return out


def assert_exactly_once(out: str, times: int = 1) -> None:
    """The example printed the exactly-once lines for both epochs (`times` runs of fit)."""
    for line in EXACTLY_ONCE:
        assert out.count(line) == times, out


@pytest.mark.slow
@pytest.mark.keras
def test_sqlite_sequence_with_forked_workers() -> None:
    """SQLite PyDataset with per_process connections, 2 forked workers: each id once per epoch."""
    out = run_example("sqlite_sequence.py", "--start-method", "fork")
    assert "workers=2 (fork)" in out
    assert_exactly_once(out)


@pytest.mark.slow
@pytest.mark.keras
def test_file_list_with_thread_workers() -> None:
    """File-list PyDataset with per_thread handles, 4 worker threads: each id once per epoch."""
    out = run_example("file_list.py")
    assert "workers=4 threads" in out
    assert_exactly_once(out)


@pytest.mark.slow
@pytest.mark.keras
def test_threadsafe_generator_keras3_and_tf_keras() -> None:
    """@threadsafe_generator with 4 threads: exact epochs in Keras 3 and tf_keras, no error on the classic path."""
    out = run_example("threadsafe_generator.py")
    assert_exactly_once(out, times=2)
    assert "no error, every batch intact" in out


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_image_augmentation_with_shared_array(method: str) -> None:
    """Pillow augmentation over a SharedArray with rng_for, 2 process workers: each id once per epoch."""
    out = run_example("image_augmentation.py", "--start-method", method)
    assert f"workers=2 ({method})" in out
    assert_exactly_once(out)
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
    assert_exactly_once(out)


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
def test_check_examples_finds_every_problem_and_passes_the_good_examples() -> None:
    """The README's main job: check_loader finds each reported problem, the good examples are clean."""
    out = run_example("check_examples.py", timeout=420)
    total = len(problem_loaders.CASES) + 4  # 4 good examples without PostgreSQL
    assert f"{total}/{total} as expected" in out, out[-4000:]
    for case in problem_loaders.CASES:
        assert re.search(rf"^{case.name}\s.*\bok$", out, re.MULTILINE), case.name
