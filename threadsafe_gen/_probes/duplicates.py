"""The duplicates probe: the same data served twice in one pass (TSG401).

Duplicate data means the same batch served at two indices of one epoch, or the same samples
served by two workers; equal values inside the data (zero-padded rows, a minority sample drawn
twice by sampling with replacement) are not duplicates (issue 10 item 7). So the sequential
pass is searched for whole batches that two indices of a sequence both return (a warning:
index arithmetic that wraps or repeats), and the threads probe's first concurrent run, when
worker threads are planned, for sample rows that only the planned workers duplicate (an
error). This probe runs after ``threads`` and reads what it recorded.
"""

from __future__ import annotations

from .._finding import Finding, make_finding
from .._registry import Severity
from ._calls import CallRecord, ConcurrentRun, PassRecord
from ._context import Probe, ProbeContext

__all__ = ["CODES", "PROBES", "probe_duplicates"]

CODES: frozenset[str] = frozenset({"TSG401"})


def probe_duplicates(ctx: ProbeContext) -> list[Finding]:
    """TSG401: whole batches repeated within one pass, and rows only worker threads duplicate."""
    rec = ctx.state.sequential
    if rec is None:
        return []
    seq_rows = [r for c in rec.calls if c.info is not None for r in c.info.rows]
    seq_dups = len(seq_rows) - len(set(seq_rows))
    findings: list[Finding] = []
    run = ctx.state.threads
    if run is not None and ctx.kind == "sequence":
        findings += _threaded(ctx, run, seq_dups)
    if ctx.kind == "sequence":
        # A generator has no epoch boundary to see: an endless one wraps around its data by
        # design, so whole batches repeat there without anything being wrong.
        findings += _repeated_batches(rec)
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


def _repeated_batches(rec: PassRecord) -> list[Finding]:
    """TSG401 (warning): two indices of one sequential pass return the same whole batch."""
    first_at: dict[bytes, int] = {}
    pairs: list[tuple[int, int]] = []
    for c in rec.calls:
        # One-row batches are single samples: equal ones may be legitimate repeats.
        if c.info is None or (c.info.n_rows or 0) < 2:
            continue
        seen = first_at.setdefault(c.info.fingerprint, c.index)
        if seen != c.index:
            pairs.append((seen, c.index))
    if not pairs:
        return []
    a, b = pairs[0]
    batches = len({c.index for c in rec.calls if c.info is not None})
    return [
        make_finding(
            "TSG401",
            path=f"loader[{b}]",
            message=(
                f"loader[{a}] and loader[{b}] return the same batch, and {len(pairs)} of "
                f"{batches} indices probed repeat an earlier index's batch in one pass: an epoch "
                "trains on these samples twice and never on the ones these indices should "
                "serve (index arithmetic that wraps or repeats)"
            ),
            details={"pairs": pairs[:8], "repeated": len(pairs), "batches": batches},
        )
    ]


PROBES = (
    Probe(
        "duplicates",
        probe_duplicates,
        in_process=True,
        needs=("sequential",),
        reads=("threads",),  # recorded by the threads probe, which runs first
    ),
)
