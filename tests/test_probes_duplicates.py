"""The duplicates probe: repeated sample rows, sequential and with worker threads (TSG401)."""

from __future__ import annotations

import loaders.basic as L
from helpers.probes import check
from helpers.probes import codes_of as by_code

from threadsafe_gen._findings import Severity


def test_legitimate_identical_rows_are_not_errors() -> None:
    """All-zero data: duplicates in the sequential pass are a warning, never an error."""
    (f,) = by_code(check(L.ZerosSeq(), workers=4, probes=["threads", "duplicates"]), "TSG401")
    assert f.severity == Severity.WARNING


def test_one_repeated_row_is_info() -> None:
    """One padding row repeated in 64: info with the count and the batch index."""
    (f,) = by_code(check(L.FewZerosSeq(), probes=["duplicates"]), "TSG401")
    assert (f.severity, f.details["duplicates"], f.details["example_indices"]) == (
        Severity.INFO,
        1,
        [0],
    )
