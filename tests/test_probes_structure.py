"""The structure probe: Keras' batch rules over the sequential pass (TSG602, TSG603, TSG621-624)."""

from __future__ import annotations

from typing import Any

import loaders.basic as L
import pytest
from helpers.probes import check
from helpers.probes import codes_of as by_code


@pytest.mark.parametrize(
    ("loader", "code", "path"),
    [
        (L.EmptyLastSeq(), "TSG602", "loader[8]"),
        (L.DtypeChangeSeq(), "TSG622", "loader[5]"),
        (L.ShapeChangeSeq(), "TSG623", "loader[5]"),
        (L.StructureChangeSeq(), "TSG621", "loader[5]"),
        (L.InvalidBatchSeq(), "TSG624", "loader[0]"),
    ],
)
def test_structure_findings(loader: Any, code: str, path: str) -> None:
    """Each structure problem is reported once, at the first batch that shows it."""
    report = check(loader, probes=["structure"])
    assert [path] == [f.path for f in by_code(report, code)]


def test_finite_generator_is_tsg603_and_infinite_is_bounded() -> None:
    """A finite generator of 8 batches is reported; an infinite one stops at max_batches."""
    finite = check(L.gen_clean, probes=["structure"])
    infinite = check(L.gen_infinite, probes=["structure"], max_batches=16)
    (f,) = by_code(finite, "TSG603")
    assert f.details["batches"] == 8
    assert "TSG603" not in infinite.codes()
    assert "16 calls" in infinite.probes[0].note


def test_empty_loaders_are_reported() -> None:
    """len() 0, or an exhausted generator object: nothing to train on, said plainly."""
    empty_seq = check(L.CleanSeq(n_batches=0), probes=["structure"])
    spent = L.gen_clean()
    list(spent)
    empty_gen = check(spent, probes=["structure"])
    assert [(f.code, f.path) for f in empty_seq.findings] == [("TSG601", "loader")]
    (f,) = empty_gen.findings
    assert (f.code, f.details["batches"]) == ("TSG603", 0)
    assert "exhausted generator object" in f.message
