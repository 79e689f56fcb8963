"""The duplicates probe: identical sample rows within one pass.

Decides TSG401. The sequential pass gives the baseline (data may hold legitimately equal
rows: a warning or info, never an error); the threads probe's first concurrent run, when
worker threads are planned, shows duplicates that only the planned workers produce (an
error). So this probe runs after ``threads`` and reads what it recorded.
"""

from __future__ import annotations

import collections

from .._findings import Finding, Severity, make_finding
from ._calls import CallRecord, ConcurrentRun, PassRecord
from ._context import Probe, ProbeContext

__all__ = ["CODES", "PROBES", "probe_duplicates"]

CODES: frozenset[str] = frozenset({"TSG401"})


def probe_duplicates(ctx: ProbeContext) -> list[Finding]:
    """TSG401: identical sample rows within one pass, sequential and with the planned workers."""
    rec = ctx.state.sequential
    if rec is None:
        return []
    seq_rows = [r for c in rec.calls if c.info is not None for r in c.info.rows]
    seq_dups = len(seq_rows) - len(set(seq_rows))
    findings: list[Finding] = []
    run = ctx.state.threads
    if run is not None and ctx.kind == "sequence":
        findings += _threaded(ctx, run, seq_dups)
    if seq_dups:
        findings.append(_sequential(ctx, rec, seq_rows, seq_dups))
    return findings


def _threaded(ctx: ProbeContext, run: ConcurrentRun, seq_dups: int) -> list[Finding]:
    """TSG401 (error): more duplicated rows with worker threads than in the sequential pass."""
    # One pass of the threaded run covers each index once, as a Keras epoch does.
    seen: dict[int, CallRecord] = {}
    for c in run.calls:
        seen.setdefault(c.index, c)
    rows = [r for c in seen.values() if c.info is not None for r in c.info.rows]
    dups = len(rows) - len(set(rows))
    if dups <= seq_dups:
        return []
    extra = dups - seq_dups
    return [
        make_finding(
            "TSG401",
            path="loader",
            message=(
                f"with {ctx.workers} worker threads, {extra} of {len(rows)} sample rows in "
                f"one pass were duplicates that the sequential pass does not have "
                f"({dups} against {seq_dups})"
            ),
            severity=Severity.ERROR,
            details={"duplicates": dups, "sequential_duplicates": seq_dups, "rows": len(rows)},
        )
    ]


def _sequential(
    ctx: ProbeContext, rec: PassRecord, seq_rows: list[bytes], seq_dups: int
) -> Finding:
    """TSG401 (warning or info): rows that repeat within the sequential pass."""
    counts = collections.Counter(seq_rows)
    where: dict[bytes, list[int]] = collections.defaultdict(list)
    for c in rec.calls:
        if c.info is None:
            continue
        for r in c.info.rows:
            if counts[r] > 1 and len(where[r]) < 4 and c.index not in where[r]:
                where[r].append(c.index)
    example = next(iter(where.values()), [])
    fraction = seq_dups / max(len(seq_rows), 1)
    whole = collections.Counter(
        c.info.fingerprint for c in rec.calls if c.info is not None and not c.info.empty
    )
    same_batches = sum(v - 1 for v in whole.values() if v > 1)
    severity = Severity.WARNING if fraction >= 0.1 or same_batches else Severity.INFO
    label = "loader[...]" if ctx.kind == "sequence" else "batches"
    return make_finding(
        "TSG401",
        path="loader",
        message=(
            f"{seq_dups} of {len(seq_rows)} sample rows ({fraction:.0%}) repeat within one "
            f"sequential pass"
            + (f", and {same_batches} whole batches repeat" if same_batches else "")
            + f"; one repeated row appears in {label} {example}. If the data has "
            "legitimately identical samples, ignore this"
        ),
        severity=severity,
        details={"duplicates": seq_dups, "rows": len(seq_rows), "example_indices": example},
    )


PROBES = (
    Probe(
        "duplicates",
        probe_duplicates,
        in_process=True,
        needs=("sequential",),
        reads=("threads",),  # recorded by the threads probe, which runs first
    ),
)
