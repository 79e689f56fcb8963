"""The state probe: attributes changed by calls, results changed later (TSG303, TSG304)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import loaders.basic as L
import numpy as np
import pytest
from helpers.probes import check
from helpers.probes import codes_of as by_code

from threadsafe_gen._probes.sequential import fork_is_safe
from threadsafe_gen._registry import Severity


def test_mutation_is_tsg303_warning() -> None:
    """__getitem__ assigning self.last_index is reported with the attribute path."""
    (f,) = by_code(check(L.MutatingSeq(), probes=["state"]), "TSG303")
    assert (f.path, f.severity) == ("loader.last_index", Severity.WARNING)


def test_lazy_initialisation_is_tsg303_info() -> None:
    """A table built on the first call (None -> array) is info, not a warning."""
    (f,) = by_code(check(L.LazyInitSeq(), probes=["state"]), "TSG303")
    assert (f.path, f.severity) == ("loader.table", Severity.INFO)


def test_lazy_pid_keyed_resource_is_info() -> None:
    """Attributes set by the first call and then stable (a -1 pid sentinel) are lazy: info."""
    (f,) = by_code(check(L.LazyPidSeq(), probes=["state"]), "TSG303")
    assert f.severity == Severity.INFO
    assert f.details["attributes"] == ["_conn", "_pid"]


def test_reused_buffer_is_tsg304() -> None:
    """Returning one buffer without a copy: earlier batches change and share memory."""
    report = check(L.BufferSeq(), probes=["state"])
    (f,) = by_code(report, "TSG304")
    assert list(range(8)) == sorted(f.details["indices"])
    assert f.details["sharing"]


_BUF = np.zeros((4, 3), np.float32)


def _fills_one_buffer() -> Iterator[tuple[np.ndarray]]:
    """Fills the module-level buffer in place and yields it again and again."""
    i = 0
    while True:
        _BUF[:] = i
        yield (_BUF,)
        i += 1


def test_generator_yielding_one_buffer_is_tsg304() -> None:
    """`BUF[:] = ...; yield BUF`: each earlier item changed (issue 10 item 17)."""
    (f,) = by_code(check(_fills_one_buffer, probes=["state"], max_batches=6), "TSG304")
    assert f.path == "next(loader) #0"
    assert sorted(f.details["indices"]) == list(range(5))
    assert "next(loader) #0 and next(loader) #1" in f.message


def test_generator_yielding_fresh_arrays_is_clean() -> None:
    """A generator of fresh batches: nothing."""
    assert check(L.gen_infinite, probes=["state"], max_batches=6).findings == []


class _MultiScale(L.CleanSeq):
    """Every 3rd index draws a new size and stores it on self; the draw may repeat the old
    value (docs/failure-modes.md row 1.1, keras-yolo3's multi-scale training)."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 4

    def __getitem__(self, index: int) -> Any:
        if index % 3 == 0:
            self.size = int(np.random.choice([4, 4, 6]))
        x, y = super().__getitem__(index)
        return np.resize(x, (len(x), self.size)), y


@pytest.mark.skipif(not fork_is_safe(), reason="the canary needs a safe fork")
def test_attribute_assigned_after_the_first_calls_is_a_warning_every_run() -> None:
    """Assignments seen by the canary decide, not whether the random value changed: the same
    severity on every run (issue 10 item 9)."""
    for _ in range(6):
        (f,) = by_code(check(_MultiScale(), probes=["state"]), "TSG303")
        assert (f.path, f.severity) == ("loader.size", Severity.WARNING)
