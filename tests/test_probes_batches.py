"""Batches as data (_probes/_batches.py): Keras' batch rules, structure signatures, fingerprints."""

from __future__ import annotations

import loaders.basic as L
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadsafe_gen._probes._batches import InvalidBatchError, batch_info, standardize_batch


def test_batch_info_fingerprints_equal_for_equal_batches() -> None:
    """Equal batches have equal fingerprints and row digests; one changed value changes both."""
    a = batch_info(L.batch_for(2))
    b = batch_info(L.batch_for(2))
    x, y = L.batch_for(2)
    x[3, 1] += 1
    c = batch_info((x, y))
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    assert [i for i, (r, s) in enumerate(zip(a.rows, c.rows, strict=True)) if r != s] == [3]


def test_standardize_batch_follows_keras_rules() -> None:
    """An array becomes (x,), a list a tuple, a dict stays; a 4-tuple and a string are rejected."""
    x = np.zeros((2, 3))
    assert len(standardize_batch(x)) == 1
    assert isinstance(standardize_batch([x, x]), tuple)
    assert isinstance(standardize_batch({"a": x}), dict)
    with pytest.raises(InvalidBatchError, match="got a tuple of 4 elements"):
        standardize_batch((x, x, x, x))
    with pytest.raises(InvalidBatchError, match="type=str"):
        standardize_batch("batch")


def test_batch_info_rejects_unequal_first_dimensions() -> None:
    """x with 8 rows and y with 7 is what Keras rejects; the message names both."""
    with pytest.raises(InvalidBatchError, match=r"x: 8, y: 7"):
        batch_info((np.zeros((8, 2)), np.zeros(7)))


def test_batch_info_nested_structure_and_weights() -> None:
    """Dict inputs, a list of labels and sample weights: rows use x and y, not the weights."""
    x = {"image": np.zeros((3, 2, 2)), "meta": np.arange(3.0)}
    info = batch_info((x, [0, 1, 2], np.ones(3)))
    other_weights = batch_info((x, [0, 1, 2], np.zeros(3)))
    assert info.n_rows == 3
    assert [p for p, *_ in info.leaves] == ["x['image']", "x['meta']", "y", "sample_weight"]
    assert info.rows == other_weights.rows
    assert info.fingerprint != other_weights.fingerprint


class Sparse:
    """Stands for a sparse tensor: numpy cannot convert it to rows."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Sparse({self.n})"


def test_opaque_leaves_are_compared_by_repr_not_rejected() -> None:
    """A leaf numpy cannot convert is opaque: not invalid, and its repr is fingerprinted."""
    a = batch_info((Sparse(1), np.zeros(3)))
    b = batch_info((Sparse(2), np.zeros(3)))
    assert (a.n_rows, a.structure) == (3, "(opaque test_probes_batches.Sparse, array)")
    assert a.fingerprint != b.fingerprint


@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 1000))
def test_row_digests_detect_exactly_the_duplicated_rows(n: int, k: int, seed: int) -> None:
    """For any batch where row j copies row i, the row digests are equal exactly there."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + 1, k))
    x[n] = x[0]
    rows = batch_info((x,)).rows
    equal_pairs = {(i, j) for i in range(n + 1) for j in range(i + 1, n + 1) if rows[i] == rows[j]}
    assert equal_pairs == {(0, n)}
