"""The spawn dry run: the loader sent to one spawned (or forkserver) child, as Keras sends it.

Sends the loader with multiprocessing's own transport (``spawn``, or the planned
``forkserver``), even on fork hosts: Python 3.14 makes forkserver the Linux default and
macOS/Windows use spawn. Pickling failures, a class the child cannot import and a main
script without ``__main__`` guard are TSG101/TSG102 (built by
:mod:`~threadsafe_gen._probes.pickling`, and not repeated when the pickling probe already
reported them). Decides TSG104 (the loader unpickles but raises or serves other data there)
and TSG702 (the cost of starting one worker, paid workers x epochs times).

Severity rule (the pickling probe's): spawn-only problems are errors when the planned
workers are spawn/forkserver processes, warnings otherwise. multiprocessing's own helper
processes (the ``resource_tracker`` that ``spawn`` starts and the ``forkserver`` server) stay
alive for the life of this process, as they do when Keras starts workers.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time

from .._finding import Finding, make_finding
from .._registry import Severity
from .._text import one_line
from . import failures, pickling
from ._child import Payload
from ._context import Probe, ProbeContext, dedupe
from ._observe import usable
from ._pool import (
    BOOTSTRAP_EXIT,
    ParentPass,
    StartTimeout,
    Worker,
    abandon,
    drive,
    exception_details,
    exit_if_bootstrapping,
    make_worker,
    plan,
    start,
)
from .fork import parent_pass

__all__ = ["CODES", "PROBES", "spawn_dry_run"]

CODES: frozenset[str] = frozenset({"TSG104", "TSG702"})

_SPAWN_LIKE = ("spawn", "forkserver")
#: Under fork, a spawn start cost is reported (as info) only from this many seconds.
_NOTABLE_START_SECONDS = 2.0
#: A spawned worker that has not finished starting after this long (or 3 batch timeouts)
#: is reported as hanging: importing TensorFlow takes 4-15 s on a busy 2-core machine.
_SPAWN_START_LIMIT = 45.0


def spawn_dry_run(ctx: ProbeContext) -> list[Finding]:
    """Send the loader to a spawned (or forkserver) child, compute 2 batches, time it.

    Runs even on fork hosts (as warnings), because macOS and Windows use spawn and Linux
    uses forkserver from Python 3.14.
    """
    exit_if_bootstrapping()
    if ctx.kind != "sequence" or not ctx.indices:
        return []
    method = ctx.start_method if ctx.start_method in _SPAWN_LIKE else "spawn"
    if method not in multiprocessing.get_all_start_methods():
        ctx.state.note(f"spawn_dry_run: skipped, {method} is not available on this platform")
        return []
    parent = parent_pass(ctx)
    stop = failures.parent_findings(ctx, parent, "spawn_dry_run")
    if stop:
        return dedupe(stop, ctx.state.reported)
    if ctx.state.pickling_hangs:
        ctx.state.note("spawn_dry_run: skipped, pickling the loader does not finish (TSG801)")
        return []
    sev = pickling.spawn_only_severity(ctx)
    if ctx.spawn_planned:
        elsewhere = ""
    elif ctx.use_multiprocessing:
        elsewhere = f" (workers fork here; {method} is used on macOS, Windows, and on Linux from Python 3.14)"
    else:
        elsewhere = f" (workers are threads here; this matters once they are {method} processes)"
    peek, extras = plan(ctx.indices)
    calls = peek[1:] + extras[:1]  # the first index once, the second, one more
    worker = make_worker(multiprocessing.get_context(method), method, Payload(ctx.loader), calls)
    t0 = time.monotonic()
    seconds = pickling.pickling_limit(ctx)
    error = start([worker], from_thread=True, timeout=seconds)
    if error is not None:
        abandon([worker])
        if isinstance(error, StartTimeout):
            where = f"sending it to a {method} worker"
            return dedupe(failures.pickling_hang_finding(ctx, seconds, where), ctx.state.reported)
        if isinstance(error, Exception) and "bootstrapping" not in str(error):
            # Anything raised while pickling: TypeError, PicklingError, AttributeError for
            # local objects, or whatever a user's __getstate__/__reduce__ raises.
            found = _send_failure(ctx, error, method, sev, elsewhere)
            return dedupe(found, ctx.state.reported)
        raise error
    drive(
        [worker],
        start_timeout=max(3 * ctx.batch_timeout, _SPAWN_START_LIMIT),
        batch_timeout=ctx.batch_timeout,
        deadline=ctx.deadline,
    )
    findings = _outcome_findings(ctx, worker, parent, method, sev, elsewhere)
    first = worker.calls.get(0)
    if worker.ready_at is not None and first is not None and first.error is None:
        startup = worker.ready_at - t0 + first.seconds
        findings += _start_cost(ctx, method, startup, worker)
    return dedupe(findings, ctx.state.reported)


def _bootstrapped(worker: Worker) -> bool:
    return worker.outcome == "died" and worker.exitcode == BOOTSTRAP_EXIT and not worker.ready_at


def _outcome_findings(
    ctx: ProbeContext,
    worker: Worker,
    parent: ParentPass,
    method: str,
    sev: Severity,
    elsewhere: str,
) -> list[Finding]:
    """What the worker's run shows: a missing main guard, death, a load error, other data."""
    if _bootstrapped(worker):
        return [pickling.unguarded_main_finding(method, sev, elsewhere)]
    findings = failures.death_findings([worker], method)
    if worker.ready_at is None:  # died or hung while starting: a spawn-only problem
        findings = [dataclasses.replace(f, severity=sev) for f in findings]
    if worker.load_error is not None:
        err = worker.load_error
        if pickling.is_import_problem(err["type"].rpartition(".")[2], err["message"]):
            findings.append(pickling.import_failure_finding(err, method, sev, elsewhere))
        else:
            findings.append(_load_error_finding(err, method, sev, elsewhere))
        return findings
    findings += _spawn_differences(ctx, worker, parent, method, sev, elsewhere)
    if not parent.calls:  # nothing to compare with: report the worker's errors as such
        findings += failures.worker_errors([worker])
    return findings


def _send_failure(
    ctx: ProbeContext, error: BaseException, method: str, sev: Severity, elsewhere: str
) -> list[Finding]:
    """The loader could not be sent: TSG101/TSG102, unless the pickling probe reported it."""
    if ctx.state.unpicklable:
        ctx.state.note(
            f"spawn_dry_run: the loader cannot be sent to a {method} worker "
            f"({type(error).__name__}: {error}); the pickling probe reports where"
        )
        return []
    return [pickling.send_failure_finding(error, method, sev, elsewhere)]


def _load_error_finding(err: dict[str, str], method: str, sev: Severity, elsewhere: str) -> Finding:
    """TSG104: the worker received the pickled loader, and unpickling it raised."""
    short_type = err["type"].rpartition(".")[2]
    return make_finding(
        "TSG104",
        path="loader",
        severity=sev,
        message=(
            f"A {method} worker{elsewhere} received the pickled loader but unpickling it "
            f"raised {short_type}: {one_line(err['message'])}"
        ),
        details={"start_method": method, **exception_details(err)},
    )


def _spawn_differences(
    ctx: ProbeContext,
    worker: Worker,
    parent: ParentPass,
    method: str,
    sev: Severity,
    elsewhere: str,
) -> list[Finding]:
    """TSG104: raises after unpickling where the parent works, or returns other data."""
    ok = {c.index: c for c in parent.calls if c.error is None}
    digests = [c.digest for c in parent.calls if c.index == ctx.indices[0] and c.digest]
    observed = usable(ctx.state.observed)
    # Two equal results of a loader that draws random numbers may be luck.
    drew = observed is not None and bool(observed.drew or observed.unseeded)
    deterministic = len(digests) >= 2 and len(set(digests)) == 1 and not drew
    for pos in sorted(worker.calls):
        call = worker.calls[pos]
        mine = ok.get(call.index)
        if mine is None:
            continue
        if call.error is not None:
            err = call.error
            return [
                make_finding(
                    "TSG104",
                    path=f"loader[{call.index}]",
                    severity=sev,
                    message=(
                        f"loader[{call.index}] works in this process, but in a {method} "
                        f"worker{elsewhere} it raised {err['type']} ({one_line(err['message'])}): "
                        "something the loader holds does not survive "
                        "pickling (a socket passed by file descriptor, state dropped or "
                        "rebuilt in __setstate__)"
                    ),
                    details={"index": call.index, "start_method": method, **exception_details(err)},
                )
            ]
        if deterministic and call.digest != mine.digest:
            return [
                make_finding(
                    "TSG104",
                    path=f"loader[{call.index}]",
                    severity=sev,
                    message=(
                        f"loader[{call.index}] returns the same data on every call in this "
                        f"process but different data in a {method} worker{elsewhere}: the "
                        "loader's state changes when it is pickled (e.g. a shuffle or cache "
                        "rebuilt in __setstate__), so workers train on other samples"
                    ),
                    details={"index": call.index, "start_method": method},
                )
            ]
    return []


def _start_cost(ctx: ProbeContext, method: str, startup: float, worker: Worker) -> list[Finding]:
    """TSG702: the cost of starting one worker, paid workers x epochs times by Keras."""
    planned = ctx.start_method in _SPAWN_LIKE
    if not ctx.use_multiprocessing or (not planned and startup < _NOTABLE_START_SECONDS):
        return []
    cores = os.cpu_count() or 1
    waves = -(-ctx.workers // cores)
    cpu = startup * ctx.workers
    if planned:
        lead = (
            f"Starting one {method} worker took {startup:.2f}s (process start, imports, "
            "unpickling the loader, first batch)"
        )
    else:
        lead = (
            f"Workers fork here, but under {method} (macOS, Windows, Linux from Python "
            f"3.14) starting one worker takes {startup:.2f}s (process start, imports, "
            "unpickling the loader, first batch)"
        )
    return [
        make_finding(
            "TSG702",
            path="loader",
            message=(
                f"{lead}. Keras rebuilds its pool every epoch, so workers={ctx.workers} cost "
                f"about {cpu:.1f} CPU-seconds per epoch, about {startup * waves:.1f}s of wall "
                f"time on this machine's {cores} cores, before the first batch"
            ),
            details={
                "start_method": method,
                "seconds_per_worker": round(startup, 3),
                "load_seconds": round(worker.load_seconds or 0.0, 3),
                "workers": ctx.workers,
                "cpu_seconds_per_epoch": round(cpu, 3),
            },
        )
    ]


PROBES = (
    Probe(
        "spawn_dry_run",
        spawn_dry_run,
        reads=(
            "inprocess_unsafe",
            "parent",
            "unpicklable",
            "pickling_hangs",
            "reported",
            "observed",
        ),
        records=("parent", "reported", "cut_short"),
    ),
)
