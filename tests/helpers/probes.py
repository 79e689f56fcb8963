"""Helpers shared by the tests of check_loader's probes (tests/test_probes_*.py).

In-process probes are tested through ``check_loader(..., probes=[...])`` (:func:`check`);
process probes are called directly with a :class:`ProbeContext` as check_loader builds it
(:func:`make_ctx`), and every test asserts that no child process is left behind
(:func:`no_orphans`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from threadsafe_gen import check_loader
from threadsafe_gen._finding import Finding
from threadsafe_gen._probes import ProbeContext
from threadsafe_gen._probes.fork import fork_dry_run
from threadsafe_gen._probes.inspection import process_inspection
from threadsafe_gen._probes.spawn import spawn_dry_run
from threadsafe_gen._report import LoaderReport

#: The in-process probes, in the order check_loader runs them.
INPROCESS = ["sequential", "structure", "state", "resources", "order", "threads", "duplicates"]

#: The process probes, in the order check_loader runs them.
PROCESS_PROBES: list[Callable[[ProbeContext], list[Finding]]] = [
    fork_dry_run,
    process_inspection,
    spawn_dry_run,
]

FORK = "fork" in multiprocessing.get_all_start_methods()


def check(loader: Any, **kwargs: Any) -> LoaderReport:
    """check_loader limited to the in-process probes (fast: no child processes but the canary)."""
    kwargs.setdefault("probes", INPROCESS)
    kwargs.setdefault("timeout", 30.0)
    return check_loader(loader, **kwargs)


def codes_of(report: LoaderReport | list[Finding], code: str) -> list[Finding]:
    """The findings with *code*, from a report or a list of findings."""
    findings = report.findings if isinstance(report, LoaderReport) else report
    return [f for f in findings if f.code == code]


def make_ctx(loader: Any, **kw: Any) -> ProbeContext:
    """A ProbeContext as check_loader() builds it: 2 fork workers, 5 s per batch."""
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
        "length": len(loader) if kind == "sequence" else None,
    }
    timeout = kw.pop("timeout", None)
    settings.update(kw)
    if timeout is not None:
        settings["deadline"] = time.monotonic() + timeout
    return ProbeContext(**settings)


def run(
    ctx: ProbeContext, probes: Sequence[Callable[[ProbeContext], list[Finding]]] | None = None
) -> list[Finding]:
    """Run the process probes (all by default) like check_loader does, in order."""
    found: list[Finding] = []
    for probe in PROCESS_PROBES if probes is None else probes:
        found += probe(ctx)
    return found


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


@contextlib.contextmanager
def no_orphans() -> Iterator[None]:
    """Assert that every child process started inside the block is reaped when it ends."""
    before = _child_pids()
    yield
    assert multiprocessing.active_children() == []
    assert set() == _child_pids() - before - _helper_pids()


# --- hostile loaders, each checked in a fresh interpreter -------------------------------------------

_DRIVER = """
import json, os, resource, sys, threading, time
import multiprocessing

def fds():
    return len(os.listdir("/proc/self/fd"))

def children():
    pids = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return {p for p in pids if _alive(p)}

def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False

if __name__ == "__main__":
    import hostile_case as case
    import numpy as np
    from threadsafe_gen import check_loader

    class Warm:
        def __len__(self):
            return 2
        def __getitem__(self, i):
            return (np.zeros((2, 1)), np.zeros(2))

    # Start multiprocessing's helpers (resource tracker) before the baseline is taken.
    check_loader(Warm(), use_multiprocessing=True, start_method="spawn", timeout=30)
    base_fds, base_children = fds(), children()
    base_threads = set(threading.enumerate())
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    loader = case.make()
    t0 = time.monotonic()
    report = check_loader(loader, **case.KWARGS)
    elapsed = time.monotonic() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    case.release(loader)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        threads = [t.name for t in threading.enumerate() if t not in base_threads]
        if not threads and children() <= base_children and fds() <= base_fds:
            break
        time.sleep(0.05)
    print("RESULT " + json.dumps({
        "elapsed": elapsed,
        "findings": [[f.code, f.path] for f in report.findings],
        "probes": [[p.name, p.status] for p in report.probes],
        "notes": report.notes,
        "threads": [t.name for t in threading.enumerate() if t not in base_threads],
        "children": sorted(children() - base_children),
        "fds": fds() - base_fds,
        "rss_mib": (rss - base_rss) / 1024,
    }))
"""


def run_isolated(case: str, tmp_path: Path, *, hard_timeout: float) -> dict[str, Any]:
    """check_loader on ``case.make()`` in a fresh interpreter, killed after *hard_timeout* s.

    *case* is the source of a module defining ``make()`` (the loader), ``release(loader)``
    (unblocks whatever the loader blocks on, so abandoned threads can end) and ``KWARGS``
    (check_loader's options). Returns how long check_loader took, its findings and probe
    statuses, and what it left behind once the loader was released: threads, child
    processes, file descriptors, and the peak memory growth.
    """
    import json
    import subprocess
    import sys
    import textwrap

    (tmp_path / "hostile_case.py").write_text(textwrap.dedent(case))
    (tmp_path / "driver.py").write_text(_DRIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,  # so a hard timeout kills the checker's children too
    )
    try:
        stdout, stderr = proc.communicate(timeout=hard_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    out = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"exit {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


def assert_nothing_left(result: dict[str, Any]) -> None:
    """No thread, child process or file descriptor outlived the check (once released)."""
    assert (result["threads"], result["children"], result["fds"]) == ([], [], 0)
