"""The structure probe: Keras' batch rules over the sequential pass.

Decides TSG602 (empty batches), TSG603 (a generator that stops, or yields nothing),
TSG621 (the batch structure changes), TSG622 (a dtype changes), TSG623 (a rank or feature
shape changes) and TSG624 (a batch Keras rejects). It calls nothing: it reads the
sequential pass's :class:`~threadsafe_gen._batches.BatchInfo` records.
"""

from __future__ import annotations

from collections.abc import Callable

from .._findings import Finding, make_finding
from .._text import one_line, some
from ._calls import CallRecord, PassRecord
from ._context import Probe, ProbeContext

__all__ = ["CODES", "PROBES", "probe_structure"]

CODES: frozenset[str] = frozenset({"TSG602", "TSG603", "TSG621", "TSG622", "TSG623", "TSG624"})


def probe_structure(ctx: ProbeContext) -> list[Finding]:
    """Keras' batch rules over the sequential pass: empty, invalid, changing batches; finite generators."""
    rec = ctx.state.sequential
    if rec is None:
        return []
    findings: list[Finding] = []
    invalid = [c for c in rec.calls if c.invalid is not None]
    if invalid:
        idx = [c.index for c in invalid]
        findings.append(
            make_finding(
                "TSG624",
                path=ctx.path(idx[0]),
                message=f"{ctx.path(idx[0])}: {invalid[0].invalid} ({len(idx)} batches: {some(idx)})",
                details={"indices": idx, "reason": invalid[0].invalid},
            )
        )
    valid = [c for c in rec.calls if c.info is not None]
    empty = [c.index for c in valid if c.info is not None and c.info.empty]
    if empty:
        findings.append(
            make_finding(
                "TSG602",
                path=ctx.path(empty[0]),
                message=f"{len(empty)} of {len(valid)} batches probed are empty ({some(empty)})",
                details={"indices": empty},
            )
        )
    if valid:
        findings += _changes(valid, ctx.path)
    if ctx.kind == "generator":
        findings += _finite(ctx, rec)
    return findings


def _finite(ctx: ProbeContext, rec: PassRecord) -> list[Finding]:
    """TSG603: a generator that yielded nothing, or stopped (Keras 3 then replays 2 batches)."""
    if rec.exhausted_after == 0:
        return [
            make_finding(
                "TSG603",
                path="loader",
                message=(
                    "the iterator yielded no batch at all: an exhausted generator object (one "
                    "that was already consumed, by a previous fit() or check) trains on nothing"
                ),
                hint=(
                    "Pass a fresh generator, or better the generator function, which can be "
                    "called again (threadsafe_gen.keras.GeneratorDataset does that each epoch)."
                ),
                details={"batches": 0},
            )
        ]
    if rec.exhausted_after is None:
        return []
    n = rec.exhausted_after
    is_func = ctx.make_iterator is not None and not hasattr(ctx.loader, "__next__")
    return [
        make_finding(
            "TSG603",
            path="loader",
            message=(
                f"the generator stopped after {n} batches. Keras 3 fit() without "
                "steps_per_epoch replays only its 2 peeked batches in every later epoch, and "
                "tf_keras stops with 'ran out of data'"
                + (
                    "; pass this generator function (not one generator object) to an "
                    "adapter that calls it again each epoch"
                    if is_func
                    else ""
                )
            ),
            details={"batches": n},
        )
    ]


def _changes(valid: list[CallRecord], path_of: Callable[[int], str]) -> list[Finding]:
    """TSG621 / TSG622 / TSG623: batches whose structure, dtypes or shapes differ from the first."""
    ref = valid[0]
    assert ref.info is not None
    struct_bad: list[int] = []
    dtype_bad: list[tuple[int, str]] = []
    shape_bad: list[tuple[int, str]] = []
    for c in valid[1:]:
        info = c.info
        assert info is not None
        if info.structure != ref.info.structure or len(info.leaves) != len(ref.info.leaves):
            struct_bad.append(c.index)
            continue
        for (path, dt, shape, ndim), (_, rdt, rshape, rndim) in zip(
            info.leaves, ref.info.leaves, strict=True
        ):
            if dt != rdt:
                dtype_bad.append((c.index, f"{path}: {rdt} in {path_of(ref.index)}, {dt} here"))
            if ndim != rndim or shape != rshape:
                shape_bad.append(
                    (
                        c.index,
                        f"{path}: rank {rndim}, feature shape {rshape} in {path_of(ref.index)}; "
                        f"rank {ndim}, feature shape {shape} here",
                    )
                )
    out: list[Finding] = []
    if struct_bad:
        i = struct_bad[0]
        other = next(c for c in valid if c.index == i).info
        assert other is not None
        out.append(
            make_finding(
                "TSG621",
                path=path_of(i),
                message=(
                    f"{path_of(i)} has structure {one_line(other.structure, 120)}, but "
                    f"{path_of(ref.index)} has {one_line(ref.info.structure, 120)} "
                    f"({len(struct_bad)} batches differ: {some(struct_bad)})"
                ),
                details={"indices": struct_bad},
            )
        )
    for code, bad in (("TSG622", dtype_bad), ("TSG623", shape_bad)):
        if bad:
            idx = sorted({i for i, _ in bad})
            out.append(
                make_finding(
                    code,
                    path=path_of(bad[0][0]),
                    message=f"{path_of(bad[0][0])} {bad[0][1]} ({len(idx)} batches differ: {some(idx)})",
                    details={"indices": idx},
                )
            )
    return out


PROBES = (Probe("structure", probe_structure, in_process=True, needs=("sequential",)),)
