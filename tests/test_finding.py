"""Finding, make_finding, at_least and LoaderReport (the registry of codes: tests/test_registry.py)."""

from __future__ import annotations

import json

import pytest

from threadsafe_gen import REGISTRY, Category, LoaderReport, Severity
from threadsafe_gen._finding import Finding, at_least, make_finding
from threadsafe_gen.errors import LoaderCheckError


def test_make_finding_takes_defaults_and_leaves_the_anchor_to_the_output() -> None:
    """Defaults come from the registry; the message names neither code nor anchor, and the
    rendered report shows the code once and the docs anchor once."""
    f = make_finding(
        "TSG101", path="loader.lock", message="loader.lock (_thread.lock) cannot be pickled"
    )
    assert f.category is Category.PICKLING
    assert f.severity is Severity.ERROR
    assert f.message == "loader.lock (_thread.lock) cannot be pickled."
    assert f.hint == REGISTRY["TSG101"].fix
    text = str(LoaderReport([f]))
    assert (text.count("TSG101"), text.count("docs/checks.md#tsg101")) == (1, 1)
    assert f"fix: {f.hint} (docs/checks.md#tsg101)" in text


def test_finding_round_trips_through_its_dict() -> None:
    """Finding.from_dict(f.to_dict()) is the finding again (details as JSON types)."""
    f = make_finding("TSG401", path="loader[3]", message="row repeated", details={"rows": (1, 2)})
    assert Finding.from_dict(f.to_dict()) == Finding(**{**vars(f), "details": {"rows": [1, 2]}})


@pytest.mark.parametrize(
    ("severity", "codes"),
    [
        ("error", ["TSG101"]),
        ("warning", ["TSG101", "TSG401"]),
        ("info", ["TSG101", "TSG401", "TSG204"]),
    ],
)
def test_at_least_is_the_severity_threshold(severity: str, codes: list[str]) -> None:
    """at_least keeps the findings at or above a severity, in their order."""
    found = [
        make_finding("TSG101", path="a", message="m"),
        make_finding("TSG401", path="b", message="m"),
        make_finding("TSG204", path="c", message="m"),
    ]
    assert [f.code for f in at_least(found, severity)] == codes


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
    assert LoaderReport.from_dict(data) == report


def test_raise_for_fails_at_or_above_its_severity() -> None:
    """raise_for("warning") fails on a warning, names the codes, and shows the report."""
    report = LoaderReport(
        [make_finding("TSG401", path="loader[3]", message="row repeated")], settings={"workers": 4}
    )
    report.raise_for("error")  # a warning does not fail at error
    with pytest.raises(LoaderCheckError) as info:
        report.raise_for("warning")
    text = str(info.value)
    assert text.startswith(
        "loader is not safe with workers=4: 1 finding(s) at or above warning (TSG401)."
    )
    assert text.endswith(str(report))


def test_clean_report_is_ok() -> None:
    """A report with only info findings is ok and says so last."""
    report = LoaderReport([make_finding("TSG204", path="process", message="3 threads")])
    assert report.ok
    report.raise_for_errors()
    assert str(report).splitlines()[-1] == "OK: 0 errors, 0 warnings, 1 info"
