"""The state probe: what calls leave behind on the loader and in the batches they returned.

Decides TSG303 (``__getitem__`` changes the loader's attributes: state that worker threads
share and worker processes do not) and TSG304 (a later call changed an earlier result: one
reused buffer, so a queue of prefetched batches holds the same memory several times; for a
sequence or a generator that yields one buffer again and again).
:func:`results_changed` also serves the threads probe, for batches returned concurrently.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._finding import Finding, make_finding
from .._registry import Severity
from .._text import some
from ._batches import InvalidBatchError, batch_info
from ._calls import PassRecord, leaf_arrays
from ._context import Probe, ProbeContext
from ._observe import usable

__all__ = ["CODES", "PROBES", "probe_state", "results_changed", "snapshot"]

CODES: frozenset[str] = frozenset({"TSG303", "TSG304"})

_SMALL = (type(None), bool, int, float, complex, str, bytes)


def _value_fingerprint(value: Any) -> Any:
    """A cheap, comparable summary of an attribute value (identity plus content where cheap)."""
    if isinstance(value, _SMALL):
        return (
            type(value).__name__,
            value if not isinstance(value, (str, bytes)) or len(value) < 4096 else hash(value),
        )
    if isinstance(value, np.ndarray):
        if value.nbytes <= 1 << 20:
            return (
                "ndarray",
                id(value),
                value.shape,
                str(value.dtype),
                value.tobytes() if not value.dtype.hasobject else id(value),
            )
        flat = value.reshape(-1)
        sample = flat[:: max(1, flat.size // 4096)]
        return (
            "ndarray",
            id(value),
            value.shape,
            str(value.dtype),
            sample.tobytes() if not value.dtype.hasobject else 0,
        )
    if isinstance(value, (list, tuple, dict, set)):
        try:
            size = len(value)
        except Exception:
            size = -1
        return (type(value).__name__, id(value), size)
    return (type(value).__name__, id(value))


def snapshot(loader: Any) -> dict[str, Any]:
    """The loader's attributes as comparable fingerprints (ours left out: per process by design)."""
    try:
        attrs = dict(vars(loader))
    except TypeError:
        attrs = {}
    for name in getattr(type(loader), "__slots__", ()) or ():
        if isinstance(name, str) and hasattr(loader, name):
            attrs[name] = getattr(loader, name)
    return {
        k: (_value_fingerprint(v), v is None)
        for k, v in attrs.items()
        # threadsafe_gen.per_process/per_thread keep their per-instance slot here: by design.
        if not type(v).__module__.startswith("threadsafe_gen")
    }


def probe_state(ctx: ProbeContext) -> list[Finding]:
    """TSG303 (attributes changed by __getitem__) and TSG304 (an earlier result changed later)."""
    rec = ctx.state.sequential
    if rec is None:
        return []
    if ctx.kind != "sequence":
        # A generator has no attributes to watch, but it may yield one buffer again and
        # again, filled anew each time (issue 10 item 17).
        reused = results_changed(ctx, rec, "the sequential pass")
        rec.results.clear()
        return reused
    findings: list[Finding] = []
    before = ctx.state.attrs_before
    first = ctx.state.attrs_after_first if ctx.state.attrs_after_first is not None else before
    ctx.state.attrs_before, ctx.state.attrs_after_first = {}, None  # read once: release them
    after = snapshot(ctx.loader)

    def diff(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
        return {k for k in a.keys() | b.keys() if a.get(k, (None,))[0] != b.get(k, (None,))[0]}

    # Set by the first calls and stable afterwards: lazy initialisation. Still changing
    # during the pass: state kept on the loader.
    eager_set = diff(first, after)
    changed_set = diff(before, after) | eager_set
    observed = usable(ctx.state.observed)
    if observed is not None:
        # Assignments the canary saw decide for the attributes they touch, whatever values
        # were assigned: a random value that happens to repeat is still a write, so the
        # severity does not depend on luck (issue 10 item 9).
        late = observed.written(after_peek=True)
        written = late | observed.written(after_peek=False)
        eager_set = (eager_set - written) | late
        changed_set = (changed_set - written) | written
    eager = sorted(eager_set)
    changed = sorted(changed_set)
    if changed:
        findings.append(_attributes_finding(len(rec.calls), changed, eager))
    findings += results_changed(ctx, rec, "the sequential pass")
    rec.results.clear()  # release the batches
    return findings


def _attributes_finding(calls: int, changed: list[str], eager: list[str]) -> Finding:
    names = ", ".join(f"loader.{k}" for k in changed[:6]) + (", ..." if len(changed) > 6 else "")
    if eager:
        return make_finding(
            "TSG303",
            path=f"loader.{eager[0]}",
            message=(
                f"a pass over {calls} batches changed {names}: __getitem__ keeps "
                "state on the loader, which worker threads share and worker processes do not"
            ),
            details={"attributes": changed},
        )
    return make_finding(
        "TSG303",
        path=f"loader.{changed[0]}",
        message=(
            f"the first calls of __getitem__ set {names}, which then stayed the same "
            "(lazy initialisation): two worker threads may both initialise it, and a "
            "handle opened by Keras' first calls in the parent is inherited by forked "
            "workers unless it is keyed on the process (threadsafe_gen.per_process)"
        ),
        severity=Severity.INFO,
        details={"attributes": changed},
    )


def results_changed(ctx: ProbeContext, rec: PassRecord, where: str) -> list[Finding]:
    """TSG304 when a batch kept in *rec* no longer matches its fingerprint; records the indices."""
    changed: list[int] = []
    for c in rec.calls:
        if c.info is None or c.index not in rec.results:
            continue
        try:
            now = batch_info(rec.results[c.index]).fingerprint
        except InvalidBatchError:
            continue
        if now != c.info.fingerprint:
            changed.append(c.index)
    if not changed:
        return []
    ctx.state.results_changed = changed
    shared_with = _sharing_pairs(rec, changed[:4])
    path = ctx.path(changed[0])
    pairs = "; ".join(f"{ctx.path(a)} and {ctx.path(b)}" for a, b in shared_with[:3])
    return [
        make_finding(
            "TSG304",
            path=path,
            message=(
                f"in {where}, {len(changed)} of {len(rec.calls)} batches changed after later "
                f"calls returned ({some(changed)})"
                + (f"; they share memory ({pairs})" if pairs else "")
                + ". A queue of prefetched batches then holds the same buffer several times, and "
                "training sees duplicates"
            ),
            details={"indices": changed, "sharing": shared_with},
        )
    ]


def _sharing_pairs(rec: PassRecord, indices: list[int]) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for a in indices:
        for b, other in rec.results.items():
            if b == a or (b, a) in pairs:
                continue
            if any(
                np.may_share_memory(x, y)
                for x in leaf_arrays(rec.results[a])
                for y in leaf_arrays(other)
            ):
                pairs.append((a, b))
                break
    return pairs


PROBES = (
    Probe(
        "state",
        probe_state,
        in_process=True,
        needs=("sequential", "attrs_before"),
        reads=("attrs_after_first", "observed"),
        records=("results_changed",),
    ),
)
