"""The resources probe: descriptors and threads that grow with every call.

Decides TSG721 (open file descriptors) and TSG722 (threads). The sequential pass counts
both after each of its calls; a steady rise, the first call left out (lazy initialisation
opens things once), is a leak that an epoch of thousands of batches multiplies.
"""

from __future__ import annotations

import itertools

from .._finding import Finding, make_finding
from ._context import Probe, ProbeContext

__all__ = ["CODES", "PROBES", "probe_resources"]

CODES: frozenset[str] = frozenset({"TSG721", "TSG722"})


def _growth(series: list[int]) -> tuple[int, float] | None:
    """(total growth, per call) when *series* grows steadily with the calls, else None."""
    vals = [v for v in series if v >= 0]
    if len(vals) < 6:
        return None
    # Ignore the first call (lazy initialisation opens things once) and tolerate noise:
    # flag only growth of at least one per two calls, rising in most steps.
    base = vals[1]
    total = vals[-1] - base
    calls = len(vals) - 2
    rises = sum(1 for a, b in itertools.pairwise(vals[1:]) if b > a)
    if total >= max(3, calls / 2) and rises >= calls / 2:
        return total, total / calls
    return None


def probe_resources(ctx: ProbeContext) -> list[Finding]:
    """TSG721/TSG722: descriptors or threads that grow with every call of the sequential pass."""
    rec = ctx.state.sequential
    if rec is None:
        return []
    findings: list[Finding] = []
    for code, series, what in (
        ("TSG721", rec.fds, "open file descriptors"),
        ("TSG722", rec.threads, "threads"),
    ):
        g = _growth(series)
        if g is None:
            continue
        total, rate = g
        findings.append(
            make_finding(
                code,
                path="loader",
                message=(
                    f"{what} grew by {total} over {len(series) - 2} calls ({rate:.2f} per call, "
                    f"{series[0]} -> {series[-1]}); an epoch of 10,000 batches would leave about "
                    f"{int(rate * 10_000)} behind"
                ),
                details={"series": series},
            )
        )
    return findings


PROBES = (Probe("resources", probe_resources, in_process=True, needs=("sequential",)),)
