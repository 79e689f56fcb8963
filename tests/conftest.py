"""Shared fixtures and the Hypothesis profile for CI."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator

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
