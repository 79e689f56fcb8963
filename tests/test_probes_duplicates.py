"""The duplicates probe: the same batch served twice in a pass, and rows duplicated only by
worker threads (TSG401)."""

from __future__ import annotations

from typing import Any

import loaders.basic as L
import numpy as np
from helpers.probes import check
from helpers.probes import codes_of as by_code

from threadsafe_gen._registry import Severity


def test_legitimate_identical_rows_are_not_errors() -> None:
    """All-zero data: the same batch at every index is a warning, never an error."""
    (f,) = by_code(check(L.ZerosSeq(), workers=4, probes=["threads", "duplicates"]), "TSG401")
    assert f.severity == Severity.WARNING


def test_one_repeated_row_is_not_duplicate_data() -> None:
    """One padding row repeated inside batch 0 is equal values, not a sample served twice
    (issue 10 item 7)."""
    assert by_code(check(L.FewZerosSeq(), probes=["duplicates"]), "TSG401") == []


class _WithReplacement(L.CleanSeq):
    """Sampling with replacement: rows of a small class appear in several batches by design."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(0)
        self.rows = np.arange(32, dtype=np.float32).reshape(8, 4)
        self.take = rng.choice(8, size=self.n_batches * L.BS, replace=True)

    def __getitem__(self, index: int) -> Any:
        take = self.take[index * L.BS : (index + 1) * L.BS]
        return self.rows[take], take.astype(np.float32)


def test_sampling_with_replacement_is_not_duplicate_data() -> None:
    """Repeated samples drawn with replacement, with worker threads too: no TSG401 (item 7)."""
    assert by_code(check(_WithReplacement(), workers=4), "TSG401") == []


def test_index_arithmetic_that_wraps_serves_whole_batches_twice() -> None:
    """index % 4: loader[4] is loader[0] again; the finding names the first pair."""
    (f,) = by_code(check(L.WrapSeq(), probes=["duplicates"]), "TSG401")
    assert (f.path, f.severity, f.details["pairs"][0]) == ("loader[4]", Severity.WARNING, (0, 4))
