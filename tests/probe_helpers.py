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
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from threadsafe_gen import check_loader
from threadsafe_gen._findings import Finding, LoaderReport
from threadsafe_gen._probes import ProbeContext
from threadsafe_gen._probes.fork import fork_dry_run
from threadsafe_gen._probes.inspection import process_inspection
from threadsafe_gen._probes.spawn import spawn_dry_run

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
