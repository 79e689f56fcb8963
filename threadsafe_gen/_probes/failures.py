"""Calls that raise, hang or kill their process, wherever they ran: TSG801, TSG802, TSG821, TSG822.

Every probe that runs the loader can meet these: the sequential pass and the threads probe
in this process, the forked canary, the fork and spawn dry runs in worker processes. The
findings are built here, one builder per situation, so each code has one home:

* TSG801: a call did not return within ``batch_timeout`` (in this process, in the parent's
  peek, or in a worker, which is then killed);
* TSG802: the check's own time budget, not the loader, stopped a call or a probe;
* TSG821: the process running a call died (the canary, the parent's preflight, a worker);
* TSG822: a call raised (and no more specific code explains it).

A call cut by the budget is never a hang: its waiting time was not ``batch_timeout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._finding import Finding, make_finding
from .._text import exit_description, one_line
from ._context import ProbeContext
from ._pool import ParentPass, Worker, exception_details

__all__ = [
    "CODES",
    "budget_finding",
    "canary_death",
    "death_findings",
    "exception_finding",
    "hang_finding",
    "len_error_finding",
    "len_hang_finding",
    "parent_findings",
    "pickling_hang_finding",
    "recheck_findings",
    "worker_errors",
]

CODES: frozenset[str] = frozenset({"TSG801", "TSG802", "TSG821", "TSG822"})


def hang_finding(ctx: ProbeContext, index: int | list[int], where: str) -> list[Finding]:
    """TSG801 for an in-process call that did not return, or nothing if the budget ran out.

    Either way the loader is not called in this process again (``state.inprocess_unsafe``).
    """
    indices = index if isinstance(index, list) else [index]
    paths = ", ".join(ctx.path(i) for i in indices) or "a call"
    if ctx.remaining() <= 0.05:
        # The wait was cut by the overall budget, not by batch_timeout: not evidence of a hang.
        ctx.state.cut_short = f"{where} stopped at {paths} when the time budget ran out"
        ctx.state.inprocess_unsafe = "the time budget ran out while a call was running"
        return []
    ctx.state.inprocess_unsafe = f"{paths} did not return ({where})"
    return [
        make_finding(
            "TSG801",
            path=ctx.path(indices[0]) if indices else "loader",
            message=(
                f"{paths} did not return within {ctx.batch_timeout:.1f} s ({where}); Keras has "
                "no per-batch timeout, so fit() would hang here forever. Later in-process "
                "probes were skipped"
            ),
            details={"indices": indices, "batch_timeout": ctx.batch_timeout},
        )
    ]


def canary_death(ctx: ProbeContext, index: int | None, exitcode: int) -> Finding:
    """TSG821: the forked canary died while calling *index*."""
    # Exit code 0 counts too: a loader that ends its process cleanly still ends it.
    how = exit_description(exitcode)
    ctx.state.inprocess_unsafe = f"the process died at index {index}: it {how}"
    path = ctx.path(index if index is not None else 0)
    return make_finding(
        "TSG821",
        path=path,
        message=(
            f"the process calling {path} {how}, as os._exit, sys.exit in native code, a "
            "segfault or the OOM killer end it. The check ran it in a forked child, so this "
            "process survived; a Keras worker would die the same way and fit() would wait for "
            "its batch forever. In-process probes were skipped"
        ),
        details={"index": index, "exitcode": exitcode},
    )


def len_error_finding(ctx: ProbeContext) -> Finding:
    """TSG822: ``len(loader)`` raised; the check probed the first indices instead."""
    error = ctx.len_error or ""
    n = len(ctx.indices)
    probed = (
        f"loader[0] to loader[{n - 1}], up to the first IndexError (or max_batches)"
        if n
        else "no index: loader[0] raised IndexError"
    )
    return make_finding(
        "TSG822",
        path="len(loader)",
        message=(
            f"len(loader) raised {one_line(error)}; Keras calls it before the first batch, "
            f"so fit() stops there. The check probed {probed} instead"
        ),
        details={"error": error, "probed": n},
    )


def len_hang_finding(ctx: ProbeContext) -> Finding:
    """TSG801: ``len(loader)`` did not return; the loader is not called in this process again."""
    ctx.state.inprocess_unsafe = "len(loader) did not return"
    return make_finding(
        "TSG801",
        path="len(loader)",
        message=(
            f"len(loader) did not return within {ctx.batch_timeout:.1f} s; Keras calls it "
            "before the first batch, so fit() would hang there forever. The in-process probes "
            "were skipped, and the others probed the first two indices only"
        ),
        details={"batch_timeout": ctx.batch_timeout},
    )


def pickling_hang_finding(ctx: ProbeContext, seconds: float, where: str) -> list[Finding]:
    """TSG801: pickling the loader (its ``__getstate__``/``__reduce__``) did not finish."""
    if ctx.remaining() <= 0.05:
        ctx.state.cut_short = f"{where} stopped when the time budget ran out"
        return []
    return [
        make_finding(
            "TSG801",
            path="loader",
            message=(
                f"pickling the loader ({where}) did not finish within {seconds:.1f} s: its "
                "__getstate__ or __reduce__, or a member's, blocks. Keras pickles the loader "
                "for every spawn or forkserver worker it starts, so fit() would hang there"
            ),
            details={"seconds": round(seconds, 3), "where": where},
        )
    ]


def recheck_findings(ctx: ProbeContext, worker: Worker, index: int) -> list[Finding]:
    """TSG801/TSG821 when calling *index* again, in a forked copy of this process, hung or died.

    The call had raised at once on a helper thread; before it is repeated on the thread
    that created the loader (where it cannot be bounded), a copy forked from that thread
    repeats it. Either way the loader is not called in this process again.
    """
    path = ctx.path(index)
    if worker.outcome == "timeout" and worker.budget:
        ctx.state.cut_short = f"calling {path} again stopped when the time budget ran out"
        ctx.state.inprocess_unsafe = "the time budget ran out while a call was running"
        return []
    if worker.outcome == "died":
        ctx.state.inprocess_unsafe = f"{path} killed its process when called again"
        return [
            make_finding(
                "TSG821",
                path=path,
                message=(
                    f"{path} raised at once, then killed the (forked copy of this) process "
                    f"that called it again: it {exit_description(worker.exitcode)}. A Keras "
                    "worker would die the same way and fit() would wait for its batch forever"
                ),
                details={"index": index, "exitcode": worker.exitcode},
            )
        ]
    ctx.state.inprocess_unsafe = f"{path} did not return when called again"
    return [
        make_finding(
            "TSG801",
            path=path,
            message=(
                f"{path} raised at once, then did not return within {worker.limit:.1f} s when "
                "called again (in a copy of this process forked from the thread that created "
                "the loader): Keras calls it again every epoch and has no per-batch timeout, "
                "so fit() would hang there. Later in-process probes were skipped"
            ),
            details={"index": index, "batch_timeout": worker.limit},
        )
    ]


def exception_finding(path: str, error: str | None, also: str, details: dict[str, Any]) -> Finding:
    """TSG822: a call at *path* raised *error* (``also`` names the other calls that did)."""
    return make_finding(
        "TSG822", path=path, message=f"{path} raised {one_line(error)}{also}", details=details
    )


def worker_errors(workers: Sequence[Worker]) -> list[Finding]:
    """TSG822 for exceptions in workers when there is no parent result to compare with."""
    errors = [(w, c) for w in workers for c in w.calls.values() if c.error is not None]
    if not errors:
        return []
    w, call = errors[0]
    err = call.error or {}
    indices = sorted({c.index for _, c in errors})
    return [
        make_finding(
            "TSG822",
            path=f"loader[{call.index}]",
            message=(
                f"loader[{call.index}] raised {err['type']} ({one_line(err['message'])}) in a "
                f"worker process (indices that raised: {indices}); it was not called in this "
                "process, which check_loader found unsafe"
            ),
            details={
                "index": call.index,
                "worker": w.label,
                **exception_details(err),
                "failed_indices": indices,
            },
        )
    ]


def _during(w: Worker) -> tuple[int, str, str]:
    """(index, path, what the worker was doing) when it died or stopped answering."""
    if w.current is not None:
        _pos, index = w.current
        return index, f"loader[{index}]", f"while computing index {index}"
    if w.ready_at is None:
        return (
            -1,
            "loader",
            "before it could run the loader (starting up, or unpickling the loader)",
        )
    return -1, "loader", "after its last batch, while exiting"


def death_findings(workers: Sequence[Worker], where: str) -> list[Finding]:
    """TSG821 / TSG801 / TSG802 for workers that died or did not answer in time."""
    findings: list[Finding] = []
    for w in workers:
        if w.outcome not in ("died", "timeout"):
            continue
        index, path, during = _during(w)
        method = "fork" if where == "forked" else where
        details: dict[str, Any] = {"worker": w.label, "start_method": method, "index": index}
        if w.outcome == "died":
            details["exitcode"] = w.exitcode
            findings.append(
                make_finding(
                    "TSG821",
                    path=path,
                    message=(
                        f"A {where} worker process died {during} with exit code {w.exitcode}: "
                        f"it {exit_description(w.exitcode)}. multiprocessing.Pool replaces a "
                        "dead worker silently and loses its batch, so Keras then waits for it "
                        "forever"
                    ),
                    details=details,
                )
            )
        elif w.budget:
            findings.append(
                make_finding(
                    "TSG802",
                    path=f"{where} dry run",
                    message=(
                        f"The check's time budget ran out while a {where} worker was still "
                        f"busy {during}; it was stopped, so this dry run is incomplete"
                    ),
                    details=details,
                )
            )
        else:
            details["limit_seconds"] = w.limit
            findings.append(
                make_finding(
                    "TSG801",
                    path=path,
                    message=(
                        f"A {where} worker did not answer {during} within {w.limit:.1f}s; it "
                        "was killed. Keras has no per-batch timeout, so fit() would hang here"
                    ),
                    details=details,
                )
            )
    return findings


def parent_findings(ctx: ProbeContext, parent: ParentPass, probe: str) -> list[Finding]:
    """TSG801/TSG821 when the parent's peek itself hangs or kills the process; [] otherwise."""
    if parent.died is not None:
        w = parent.died
        index = w.current[1] if w.current else -1
        ctx.state.note(f"{probe}: skipped, loader[{index}] kills the process that computes it")
        return [
            make_finding(
                "TSG821",
                path=f"loader[{index}]",
                message=(
                    f"loader[{index}] killed the (forked copy of this) process computing it: "
                    f"it {exit_description(w.exitcode)}. Keras computes the first two batches "
                    "in the training process itself, so fit() would die with it"
                ),
                details={"index": index, "where": "parent", "exitcode": w.exitcode},
            )
        ]
    if parent.hung is None:
        return []
    index = parent.hung
    ctx.state.note(f"{probe}: skipped, loader[{index}] did not return in this process")
    return [
        make_finding(
            "TSG801",
            path=f"loader[{index}]",
            message=(
                f"loader[{index}] did not return within {ctx.batch_timeout:.1f}s in this "
                "process, before any worker was started (Keras computes the first two "
                "batches in the parent too), so fit() would hang here"
            ),
            details={"index": index, "where": "parent"},
        )
    ]


def budget_finding(timeout: float, skipped: list[str], cut_short: str | None) -> Finding:
    """TSG802: the budget ran out; *skipped* probes could not start, *cut_short* was stopped."""
    parts = [cut_short] if cut_short else []
    if skipped:
        parts.append(f"{len(skipped)} probes could not start: {', '.join(skipped)}")
    return make_finding(
        "TSG802",
        path="check_loader",
        message=f"the budget of timeout={timeout:g} s ran out: {'; '.join(parts)}",
        details={"skipped": skipped, "cut_short": cut_short, "timeout": timeout},
    )
