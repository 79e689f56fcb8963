"""Shared fixtures and the Hypothesis profile for CI."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis is in the [dev] extra
    pass
else:
    # Concurrency properties start threads per example: keep examples bounded and do not fail
    # on the machine's speed (2 cores in CI).
    settings.register_profile(
        "ci",
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", max_examples=30, deadline=None)
    settings.load_profile("ci" if os.environ.get("CI") else "dev")

# TensorFlow logs a lot at import; keep test output readable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(autouse=True)
def _no_leaked_child_processes() -> Iterator[None]:
    """Fail the test that leaves a multiprocessing child running (never an innocent later one)."""
    before = set(multiprocessing.active_children())
    yield
    leaked = set(multiprocessing.active_children()) - before
    if leaked:
        for proc in leaked:  # reap them so the next test starts clean
            proc.kill()
            proc.join(5)
        pytest.fail(f"test left child processes running: {sorted(map(repr, leaked))}")


def _foreign_or_ours(thread: threading.Thread) -> bool:
    """Threads a test cannot be blamed for leaving: threads that C++ code (TensorFlow) started
    and Python only registered (`threading._DummyThread`, never removed), and the checker's
    own helper threads (``threadsafe_gen-*``), which a call that hung keeps on purpose."""
    return isinstance(thread, threading._DummyThread) or thread.name.startswith("threadsafe_gen-")


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail the test that leaves Python threads running: a later test that inspects this
    process's threads (the fork-safety probes do) would otherwise fail instead of it."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not _foreign_or_ours(t)
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if leaked:
        pytest.fail(f"test left threads running: {sorted(t.name for t in leaked)}")


@pytest.fixture(autouse=True)
def _close_leftover_sqlite_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close the SQLite connections a test opened and left open, when that test ends.

    The problem loaders of tests/loaders*.py hold connections on purpose (made in __init__,
    or on the first call). Python 3.13 warns (ResourceWarning) about every connection
    garbage-collected unclosed, and the collector runs at some later allocation: the warning
    would fail whichever test runs then. Only connections made on the test's own thread can be
    closed here (SQLite refuses another thread's, unless it was opened with
    check_same_thread=False); the library's own closing (per_process/per_thread) is tested in
    tests/test_resources.py, not here.
    """
    opened: list[tuple[sqlite3.Connection, int]] = []
    connect = sqlite3.connect

    def tracked_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = connect(*args, **kwargs)
        opened.append((conn, threading.get_ident()))
        return conn

    monkeypatch.setattr(sqlite3, "connect", tracked_connect)
    yield
    me = threading.get_ident()
    for conn, ident in opened:
        try:
            conn.close()  # idempotent
        except sqlite3.ProgrammingError:
            if ident == me:
                raise
            # Another thread's connection opened with check_same_thread=True: only that
            # thread may close it, so it is left to the garbage collector.
