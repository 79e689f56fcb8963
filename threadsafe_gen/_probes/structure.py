"""The structure probe: Keras' batch rules over the sequential pass.

Decides TSG602 (empty batches), TSG603 (a generator that stops, or yields nothing),
TSG621 (the batch structure changes), TSG622 (a dtype changes), TSG623 (a rank or feature
shape changes) and TSG624 (a batch Keras rejects). It calls nothing: it reads the
sequential pass's :class:`~threadsafe_gen._batches.BatchInfo` records.

TSG623 follows what the consumer really does (issue 10 item 6). Every Keras fixes the rank
of each array. Keras 3 on the TensorFlow backend also fixes every feature dimension on which
its two peeked batches (``loader[0]`` and ``loader[1]``, or the first two items) agree: its
tf.data signature leaves only the dimensions they disagree on open. Keras 2/tf_keras
``fit_generator`` and the other Keras 3 backends accept feature shapes that vary on purpose
(multi-scale training, length bucketing). So a rank change is an error; a change of a fixed
dimension is an error for a PyDataset set up for Keras 3 on TensorFlow, and a warning naming
that condition otherwise; a dimension that varies from the peek on is fine everywhere.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

from .._finding import Finding, make_finding
from .._registry import Severity
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
        findings += _changes(ctx, valid, ctx.path)
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


def _changes(
    ctx: ProbeContext, valid: list[CallRecord], path_of: Callable[[int], str]
) -> list[Finding]:
    """TSG621 / TSG622 / TSG623: batches whose structure, dtypes or shapes differ from the first."""
    ref = valid[0]
    assert ref.info is not None
    peek = _peeked_dims(valid[:2])
    struct_bad: list[int] = []
    dtype_bad: list[tuple[int, str]] = []
    shape_bad: list[_ShapeChange] = []
    for c in valid[1:]:
        info = c.info
        assert info is not None
        if info.structure != ref.info.structure or len(info.leaves) != len(ref.info.leaves):
            struct_bad.append(c.index)
            continue
        for (path, dt, shape, ndim), (_, rdt, rshape, rndim), fixed in zip(
            info.leaves, ref.info.leaves, peek, strict=True
        ):
            if dt != rdt:
                dtype_bad.append((c.index, f"{path}: {rdt} in {path_of(ref.index)}, {dt} here"))
            if ndim != rndim or shape != rshape:
                change = _ShapeChange(c.index, path, rndim, rshape, ndim, shape, fixed)
                if change.breaks_keras2 or change.breaks_keras3:
                    shape_bad.append(change)
    out: list[Finding] = []
    if struct_bad:
        out.append(_structure_finding(valid, struct_bad, path_of))
    if dtype_bad:
        idx = sorted({i for i, _ in dtype_bad})
        out.append(
            make_finding(
                "TSG622",
                path=path_of(dtype_bad[0][0]),
                message=f"{path_of(dtype_bad[0][0])} {dtype_bad[0][1]} ({len(idx)} batches differ: {some(idx)})",
                details={"indices": idx},
            )
        )
    if shape_bad:
        out.append(_shape_finding(ctx, ref.index, shape_bad, path_of))
    return out


def _structure_finding(
    valid: list[CallRecord], struct_bad: list[int], path_of: Callable[[int], str]
) -> Finding:
    ref = valid[0].info
    assert ref is not None
    i = struct_bad[0]
    other = next(c for c in valid if c.index == i).info
    assert other is not None
    return make_finding(
        "TSG621",
        path=path_of(i),
        message=(
            f"{path_of(i)} has structure {one_line(other.structure, 120)}, but "
            f"{path_of(valid[0].index)} has {one_line(ref.structure, 120)} "
            f"({len(struct_bad)} batches differ: {some(struct_bad)})"
        ),
        details={"indices": struct_bad},
    )


def _peeked_dims(peeked: list[CallRecord]) -> list[tuple[bool, ...]]:
    """Per leaf, which feature dimensions Keras 3 fixes: those the peeked batches agree on."""
    first = peeked[0].info
    assert first is not None
    fixed: list[tuple[bool, ...]] = []
    for k, (_, _, shape, _) in enumerate(first.leaves):
        others = [
            c.info.leaves[k][2]
            for c in peeked[1:]
            if c.info is not None and len(c.info.leaves) == len(first.leaves)
        ]
        fixed.append(
            tuple(
                all(len(o) == len(shape) and o[d] == shape[d] for o in others)
                for d in range(len(shape))
            )
        )
    return fixed


@dataclasses.dataclass(frozen=True)
class _ShapeChange:
    """One leaf of one batch whose rank or feature shape differs from the first batch's."""

    index: int
    path: str
    ref_ndim: int
    ref_shape: tuple[int, ...]
    ndim: int
    shape: tuple[int, ...]
    fixed: tuple[bool, ...]  # the feature dimensions Keras 3's signature fixes

    @property
    def breaks_keras2(self) -> bool:
        """Every Keras fixes the rank."""
        return self.ndim != self.ref_ndim

    @property
    def breaks_keras3(self) -> bool:
        """A dimension that the peeked batches agreed on changed (Keras 3 on TensorFlow)."""
        return self.breaks_keras2 or any(
            f and a != b for f, a, b in zip(self.fixed, self.ref_shape, self.shape, strict=False)
        )

    def describe(self, ref: str) -> str:
        return (
            f"{self.path}: rank {self.ref_ndim}, feature shape {self.ref_shape} in {ref}; "
            f"rank {self.ndim}, feature shape {self.shape} here"
        )


def _shape_finding(
    ctx: ProbeContext, ref_index: int, bad: list[_ShapeChange], path_of: Callable[[int], str]
) -> Finding:
    """TSG623: an error where the consumer breaks, else a warning naming when it would."""
    first = next((b for b in bad if b.breaks_keras2), bad[0])
    idx = sorted({b.index for b in bad})
    differ = f"{len(idx)} batch differs" if len(idx) == 1 else f"{len(idx)} batches differ"
    where = f"{path_of(first.index)} {first.describe(path_of(ref_index))} ({differ}: {some(idx)})"
    peek = "loader[0] and loader[1]" if ctx.kind == "sequence" else "the first two batches"
    details = {"indices": idx, "rank_changes": first.breaks_keras2}
    if first.breaks_keras2:
        return make_finding(
            "TSG623",
            path=path_of(first.index),
            message=f"{where}: every Keras fixes the rank of each array, so fit() fails at this batch",
            details=details,
        )
    keras3 = _keras3_tensorflow(ctx.loader)
    condition = (
        f"Keras 3 on the TensorFlow backend fixes every feature dimension on which {peek} "
        "agree (its tf.data signature)"
    )
    if keras3:
        return make_finding(
            "TSG623",
            path=path_of(first.index),
            message=f"{where}: the loader is a Keras 3 PyDataset and {condition}, so fit() fails at this batch",
            details={**details, "consumer": "keras3-tensorflow"},
        )
    return make_finding(
        "TSG623",
        path=path_of(first.index),
        severity=Severity.WARNING,
        message=(
            f"{where}. {condition}, so Keras 3 fit() would fail at this batch; Keras 2/tf_keras "
            "fit_generator and the other Keras 3 backends accept feature shapes that vary "
            "(multi-scale training, length bucketing), as long as the model's inputs leave "
            "those dimensions open (None)"
        ),
        hint=(
            "Intended varying shapes: train with Keras 2/tf_keras, or make loader[0] and "
            "loader[1] differ in that dimension so Keras 3 leaves it open, and ignore this "
            "code. Otherwise pad or resize to a fixed shape."
        ),
        details={**details, "consumer": "unknown"},
    )


def _keras3_tensorflow(loader: Any) -> bool:
    """A Keras 3 PyDataset whose PyDataset.__init__ ran (Keras 2-style Sequence code never
    calls it), with Keras on the TensorFlow backend: fit() builds a tf.data signature."""
    pydataset = any(
        c.__name__ == "PyDataset" and c.__module__.startswith("keras.")
        for c in type(loader).__mro__
    )
    if not pydataset or "_workers" not in getattr(loader, "__dict__", {}):
        return False
    keras = sys.modules.get("keras")
    try:
        backend = keras.config.backend() if keras is not None else None
    except Exception:
        backend = None
    return backend == "tensorflow"


PROBES = (Probe("structure", probe_structure, in_process=True, needs=("sequential",)),)
