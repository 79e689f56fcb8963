"""Batches as data the probes can compare: Keras' batch rules, structure signatures, fingerprints.

Every probe that runs the loader turns each batch into a :class:`BatchInfo` once, right after
the call returned: the standardised structure (Keras' rules for ``(x,)``, ``(x, y)``,
``(x, y, sample_weight)`` or a dict), a signature of that structure (keys, tuple lengths,
dtypes and feature shapes), one fingerprint of the whole batch and one per sample row.
Comparing passes is then comparing these small values, not arrays.

Fingerprints are 16-byte BLAKE2b digests of dtype, shape and bytes, so they are exact (equal
arrays give equal fingerprints, and a collision is not a practical concern) and cheap (about
1 GB/s). Object arrays and non-array leaves are fingerprinted through ``repr``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._text import one_line, short_repr

__all__ = [
    "BatchInfo",
    "InvalidBatchError",
    "Leaf",
    "batch_info",
    "standardize_batch",
]

#: Names Keras gives the positions of a batch tuple, used in leaf paths.
_TUPLE_NAMES = ("x", "y", "sample_weight")


class InvalidBatchError(ValueError):
    """A batch Keras would reject; the message says what is wrong with it."""


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One array of a batch: where it sits (``x``, ``x['image']``, ``y``) and its values."""

    path: str
    value: np.ndarray[Any, Any] | None  # None: a None placeholder (y=None) or an opaque leaf
    role: str  # "x", "y" or "sample_weight"
    opaque: str = ""  # type and repr of a leaf numpy cannot convert (a sparse tensor, ...)


@dataclasses.dataclass(frozen=True)
class BatchInfo:
    """What the probes compare about one batch.

    Attributes:
        structure: the shape of the nesting without values, e.g. ``"(x:array, y:array)"``.
        leaves: ``(path, dtype, feature shape, ndim)`` for each leaf, in order.
        n_rows: the common first dimension (number of samples), or ``None`` if leaves disagree.
        fingerprint: digest of the whole batch (structure, dtypes, shapes and bytes).
        rows: one digest per sample row, over the x and y leaves (weights left out).
        first_dims: the first dimension of every leaf, by path.
    """

    structure: str
    leaves: tuple[tuple[str, str, tuple[int, ...], int], ...]
    n_rows: int | None
    fingerprint: bytes
    rows: tuple[bytes, ...]
    first_dims: Mapping[str, int]

    @property
    def empty(self) -> bool:
        """True when the batch has no samples."""
        return self.n_rows == 0


def standardize_batch(batch: Any) -> tuple[Any, ...] | Mapping[Any, Any]:
    """Apply Keras 3's rules to a batch: an array becomes ``(x,)``, a list becomes a tuple.

    Raises:
        InvalidBatchError: the batch is neither a tuple of 1-3 elements, a list, an array, a
            tensor nor a dict, which Keras rejects ("must return a tuple or a dict").
    """
    if isinstance(batch, Mapping):
        return batch
    if isinstance(batch, list):
        batch = tuple(batch)
    if isinstance(batch, tuple):
        if not 1 <= len(batch) <= 3:
            msg = (
                f"a batch tuple must be (x,), (x, y) or (x, y, sample_weight), "
                f"got a tuple of {len(batch)} elements"
            )
            raise InvalidBatchError(msg)
        return batch
    if _is_array_like(batch):
        return (batch,)
    msg = (
        f"a batch must be a tuple (x,), (x, y), (x, y, sample_weight), a dict or an array, "
        f"got {short_repr(batch, 80)} (type={type(batch).__name__})"
    )
    raise InvalidBatchError(msg)


def batch_info(batch: Any) -> BatchInfo:
    """Standardise *batch* and compute its signature and fingerprints.

    Raises:
        InvalidBatchError: Keras would reject the batch (see :func:`standardize_batch`), a leaf
            is not array-like, or the leaves disagree on the number of samples.
    """
    struct = standardize_batch(batch)
    leaves: list[Leaf] = []
    if isinstance(struct, Mapping):
        structure = _flatten(struct, "x", "x", leaves)
    else:
        parts = [
            _flatten(item, _TUPLE_NAMES[i], _TUPLE_NAMES[i], leaves)
            for i, item in enumerate(struct)
        ]
        structure = "(" + ", ".join(parts) + ")"
    first_dims: dict[str, int] = {}
    for leaf in leaves:
        if leaf.value is not None:
            first_dims[leaf.path] = int(leaf.value.shape[0]) if leaf.value.ndim else -1
    scalar = [p for p, n in first_dims.items() if n == -1]
    if scalar:
        msg = f"{scalar[0]} is a scalar; every array of a batch needs a first (batch) dimension"
        raise InvalidBatchError(msg)
    distinct = set(first_dims.values())
    if len(distinct) > 1:
        shown = ", ".join(f"{p}: {n}" for p, n in first_dims.items())
        msg = f"the arrays of the batch have different numbers of samples ({shown})"
        raise InvalidBatchError(msg)
    n_rows = distinct.pop() if distinct else None
    digest = hashlib.blake2b(structure.encode(), digest_size=16)
    sigs: list[tuple[str, str, tuple[int, ...], int]] = []
    for leaf in leaves:
        if leaf.value is None:
            sigs.append((leaf.path, "opaque" if leaf.opaque else "None", (), 0))
            digest.update(leaf.opaque.encode() or b"None")
            continue
        arr = leaf.value
        sigs.append((leaf.path, str(arr.dtype), tuple(arr.shape[1:]), arr.ndim))
        digest.update(f"{leaf.path}|{arr.dtype}|{arr.shape}".encode())
        digest.update(_array_bytes(arr))
    rows = _row_fingerprints(leaves, n_rows or 0)
    return BatchInfo(
        structure=structure,
        leaves=tuple(sigs),
        n_rows=n_rows,
        fingerprint=digest.digest(),
        rows=rows,
        first_dims=first_dims,
    )


def _is_array_like(value: Any) -> bool:
    # numpy arrays, TensorFlow/JAX/torch tensors: all expose a shape and convert with asarray.
    return isinstance(value, np.ndarray) or (
        hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "__array__")
    )


def _flatten(value: Any, path: str, role: str, out: list[Leaf]) -> str:
    """Append the leaves under *value* to *out*; return the structure text of *value*."""
    if value is None:
        out.append(Leaf(path, None, role))
        return "None"
    if isinstance(value, Mapping):
        parts = []
        for key in sorted(value, key=repr):
            parts.append(f"{key!r}: " + _flatten(value[key], f"{path}[{key!r}]", role, out))
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, (tuple, list)) and not _is_numeric_list(value):
        parts = [_flatten(v, f"{path}[{i}]", role, out) for i, v in enumerate(value)]
        inner = ", ".join(parts)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    try:
        arr = np.asarray(value)
    except Exception:
        arr = None
    if arr is None or (arr.ndim == 0 and arr.dtype.hasobject and not np.isscalar(value)):
        # Sparse and ragged tensors, framework objects: numpy cannot see their rows. They
        # are compared by type and repr only, never declared invalid (Keras may accept them).
        name = f"{type(value).__module__}.{type(value).__qualname__}"
        try:
            text = repr(value)  # whole: it is fingerprinted, not shown
        except Exception as exc:
            text = f"<{type(value).__name__} with failing repr: {exc!r}>"
        out.append(Leaf(path, None, role, opaque=f"{name}:{one_line(text, 10_000)}"))
        return f"opaque {name}"
    out.append(Leaf(path, arr, role))
    return "array"


def _is_numeric_list(value: tuple[Any, ...] | list[Any]) -> bool:
    # [1, 2, 3] is one array of labels, [x1, x2] is two model inputs.
    return bool(value) and all(isinstance(v, (int, float, bool, np.generic)) for v in value)


def _array_bytes(arr: np.ndarray[Any, Any]) -> bytes:
    if arr.dtype.hasobject:
        return repr(arr.tolist()).encode()
    return np.ascontiguousarray(arr).tobytes()


def _row_fingerprints(leaves: list[Leaf], n_rows: int) -> tuple[bytes, ...]:
    """One digest per sample: row i of every x and y leaf together."""
    used = [leaf for leaf in leaves if leaf.value is not None and leaf.role != "sample_weight"]
    if not used or n_rows == 0:
        return ()
    digests = [hashlib.blake2b(digest_size=16) for _ in range(n_rows)]
    for leaf in used:
        arr = leaf.value
        assert arr is not None  # filtered above; for mypy
        if arr.dtype.hasobject:
            for i in range(n_rows):
                digests[i].update(repr(arr[i].tolist()).encode())
            continue
        flat = np.ascontiguousarray(arr).reshape(n_rows, -1)
        for i in range(n_rows):
            digests[i].update(flat[i].tobytes())
    return tuple(d.digest() for d in digests)
