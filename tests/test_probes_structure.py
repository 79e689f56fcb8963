"""The structure probe: Keras' batch rules over the sequential pass (TSG602, TSG603, TSG621-624)."""

from __future__ import annotations

from typing import Any

import loaders.basic as L
import numpy as np
import pytest
from helpers.probes import check
from helpers.probes import codes_of as by_code

from threadsafe_gen._registry import Severity


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


# --- TSG623: an error only where the consumer breaks (issue 10 item 6) ------------------------------


class _Widths(L.CleanSeq):
    """Batch i is `widths[i]` features wide (multi-scale training, length bucketing)."""

    def __init__(self, widths: list[int], rank3: int = -1) -> None:
        super().__init__(n_batches=len(widths))
        self.widths = widths
        self.rank3 = rank3

    def __getitem__(self, index: int) -> Any:
        x = np.full((4, self.widths[index]), index, np.float32)
        if index == self.rank3:
            x = x[..., None]
        return x, np.zeros(4, np.float32)


def test_feature_shape_fixed_by_the_peek_is_a_warning_naming_keras_3() -> None:
    """loader[0] and loader[1] agree, loader[4] differs: Keras 3 would fail, Keras 2 not."""
    (f,) = by_code(check(_Widths([5, 5, 5, 5, 9, 9]), probes=["structure"]), "TSG623")
    assert (f.path, f.severity) == ("loader[4]", Severity.WARNING)
    assert "Keras 3" in f.message
    assert "loader[0] and loader[1]" in f.message


def test_feature_shape_that_varies_from_the_peek_on_is_fine() -> None:
    """loader[0] and loader[1] differ: Keras 3 leaves the dimension open, Keras 2 never fixes it."""
    assert by_code(check(_Widths([5, 7, 5, 9, 6]), probes=["structure"]), "TSG623") == []


def test_rank_change_is_an_error_for_every_keras() -> None:
    """A third axis on one batch: every Keras fixes the rank."""
    (f,) = by_code(check(_Widths([5, 5, 5, 5], rank3=2), probes=["structure"]), "TSG623")
    assert (f.path, f.severity) == ("loader[2]", Severity.ERROR)


@pytest.mark.keras
def test_keras_3_pydataset_on_tensorflow_is_an_error() -> None:
    """A PyDataset set up with super().__init__() on the TensorFlow backend breaks: error."""
    keras = pytest.importorskip("keras")
    if keras.config.backend() != "tensorflow":
        pytest.skip("Keras 3 fixes the signature on the TensorFlow backend only")
    widths = [5, 5, 5, 9]

    class Boxes(keras.utils.PyDataset):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__(workers=1)

        def __len__(self) -> int:
            return len(widths)

        def __getitem__(self, index: int) -> Any:
            return np.zeros((2, widths[index]), np.float32), np.zeros(2, np.float32)

    (f,) = by_code(check(Boxes(), probes=["structure"]), "TSG623")
    assert (f.path, f.severity) == ("loader[3]", Severity.ERROR)
    assert "Keras 3 PyDataset" in f.message
