"""Finding, make_finding and LoaderReport (the registry of codes: tests/test_registry.py)."""

from __future__ import annotations

import json

import pytest

from threadsafe_gen import REGISTRY, Category, LoaderReport, Severity
from threadsafe_gen._findings import make_finding
from threadsafe_gen.errors import LoaderCheckError


def test_make_finding_appends_code_and_anchor() -> None:
    """A finding's message ends with its code and docs anchor; defaults come from the registry."""
    f = make_finding(
        "TSG101", path="loader.lock", message="loader.lock (_thread.lock) cannot be pickled"
    )
    assert f.category is Category.PICKLING
    assert f.severity is Severity.ERROR
    assert f.message.endswith("(TSG101, see docs/checks.md#tsg101)")
    assert f.hint == REGISTRY["TSG101"].fix


def test_make_finding_rejects_unknown_code() -> None:
    """An unregistered code is a KeyError naming where codes live."""
    with pytest.raises(KeyError, match="REGISTRY"):
        make_finding("TSG999", path="x", message="m")


def test_report_ok_sorting_json_and_raise() -> None:
    """Errors sort first; ok is False with an error; JSON round-trips; raise_for_errors is an AssertionError."""
    warn = make_finding("TSG401", path="loader[3]", message="row repeated 2 times")
    err = make_finding("TSG101", path="loader.lock", message="cannot be pickled")
    report = LoaderReport([warn, err], settings={"workers": 4}, loader="Demo")
    assert [f.code for f in report.findings] == ["TSG101", "TSG401"]
    assert not report.ok
    data = json.loads(report.to_json())
    assert data["findings"][0]["category"] == "pickling"
    assert data["ok"] is False
    with pytest.raises(AssertionError) as info:
        report.raise_for_errors()
    assert isinstance(info.value, LoaderCheckError)
    assert "TSG101" in str(info.value)
    assert str(report).splitlines()[-1] == "FAILED: 1 error, 1 warning, 0 info"


def test_clean_report_is_ok() -> None:
    """A report with only info findings is ok and says so last."""
    report = LoaderReport([make_finding("TSG204", path="process", message="3 threads")])
    assert report.ok
    report.raise_for_errors()
    assert str(report).splitlines()[-1] == "OK: 0 errors, 0 warnings, 1 info"
