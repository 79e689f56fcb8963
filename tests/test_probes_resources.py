"""The resources probe: descriptors and threads that grow with every call (TSG721, TSG722)."""

from __future__ import annotations

import loaders.basic as L
from helpers.probes import check
from helpers.probes import codes_of as by_code


def test_fd_growth_is_tsg721() -> None:
    """One file opened per call and kept: descriptors grow by one per call."""
    loader = L.FdLeakSeq()
    try:
        (f,) = by_code(check(loader, probes=["resources"]), "TSG721")
    finally:
        loader.close()
    assert f.details["series"][-1] - f.details["series"][1] == 7


def test_thread_growth_is_tsg722() -> None:
    """One thread started per call and left running: TSG722."""
    loader = L.ThreadLeakSeq()
    try:
        report = check(loader, probes=["resources"])
    finally:
        loader.close()
    assert [f.code for f in report.findings] == ["TSG722"]
