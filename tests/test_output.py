"""Output formats: text for people, stable json, SARIF 2.1.0 (schema-validated), GitHub annotations."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from threadsafe_gen._finding import Finding, Location, make_finding
from threadsafe_gen._lint.result import LintReport
from threadsafe_gen._output import (
    GITHUB_ANNOTATIONS_PER_LEVEL,
    RunInfo,
    exit_code,
    render,
    use_color,
)
from threadsafe_gen._report import LoaderReport

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def lint_finding(code: str, file: str = "pkg/data.py", line: int = 3) -> Finding:
    """A static finding at file:line."""
    return make_finding(
        code,
        path=f"pkg.data.Loader.f{line}",
        message=f"something about line {line}",
        location=Location(file, line, 5, line, 20),
    )


def test_text_lists_findings_then_summary_last() -> None:
    """Text output has location, code, severity, message and fix; the summary is the last line."""
    findings = [lint_finding("TSG351"), lint_finding("TSG652", line=9)]
    out = render(findings, RunInfo("lint", files=4, seconds=0.5), "text")
    lines = out.splitlines()
    assert lines[0] == "pkg/data.py:3:5: TSG351 [error] something about line 3."
    assert lines[1] == f"    fix: {findings[0].hint} (docs/checks.md#tsg351)"
    assert lines[-1] == "Found 2 problems in 1 of 4 files (1 error, 1 warning, 0 info) in 0.50 s."
    assert str(LintReport(findings, files=4, seconds=0.5)) == out


def test_text_without_findings() -> None:
    """A clean run says so in one line."""
    out = render([], RunInfo("lint", files=1, seconds=0.0), "text")
    assert out == "No problems found in 1 file (0.00 s)."


def test_text_color_only_when_asked() -> None:
    """ANSI colour codes appear only with color=True."""
    f = [lint_finding("TSG351")]
    plain = render(f, RunInfo("lint", files=1), "text")
    colored = render(f, RunInfo("lint", files=1), "text", color=True)
    assert ("\x1b[" in plain, "\x1b[31merror\x1b[0m" in colored) == (False, True)


def test_check_text_is_coloured_from_the_findings() -> None:
    """A check's text is coloured by each finding's severity, whatever its message says."""
    f = make_finding("TSG401", path="loader", message="TSG101 [error] looks like a header")
    report = LoaderReport([f], loader="L")
    colored = render(report.findings, report.run_info(), "text", color=True)
    assert "\x1b[1mTSG401\x1b[0m [\x1b[33mwarning\x1b[0m] duplicate-data: loader" in colored
    assert "\x1b[31m" not in colored  # the message's "[error]" is not painted
    assert colored.splitlines()[-1] == "\x1b[1mOK: 0 errors, 1 warning, 0 info\x1b[0m"


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(
    ("tty", "no_color", "expected"),
    [(True, None, True), (True, "1", False), (False, None, False)],
)
def test_use_color_needs_a_tty_and_no_no_color(
    tty: bool, no_color: str | None, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Colour on a TTY only, and never with NO_COLOR set."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    if no_color is not None:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert use_color(_Stream(tty)) is expected


def test_check_text_is_the_report_rendering() -> None:
    """For check, text output is the LoaderReport's own rendering (summary last)."""
    report = LoaderReport([make_finding("TSG301", path="loader", message="differs")], loader="L")
    out = render(report.findings, report.run_info(), "text")
    assert (out == str(report), out.splitlines()[-1]) == (
        True,
        "FAILED: 1 error, 0 warnings, 0 info",
    )


def test_json_schema_is_stable() -> None:
    """The json output has the documented top-level keys and per-finding keys."""
    data = json.loads(
        render([lint_finding("TSG351")], RunInfo("lint", files=2, seconds=1.0), "json")
    )
    assert sorted(data) == ["command", "findings", "schema_version", "summary", "tool"]
    assert data["summary"] == {
        "files": 2,
        "findings": 1,
        "errors": 1,
        "warnings": 0,
        "info": 0,
        "seconds": 1.0,
    }
    assert sorted(data["findings"][0]) == [
        "category",
        "code",
        "details",
        "docs",
        "hint",
        "location",
        "message",
        "name",
        "path",
        "severity",
        "title",
    ]
    assert data["findings"][0]["location"] == {
        "file": "pkg/data.py",
        "line": 3,
        "column": 5,
        "end_line": 3,
        "end_column": 20,
    }


def test_json_for_check_includes_loader_settings_and_probes() -> None:
    """check's json adds loader, settings and probes from the report."""
    report = LoaderReport([], settings={"workers": 4}, loader="Loader()")
    data = json.loads(render([], report.run_info(), "json"))
    assert (data["loader"], data["settings"], data["probes"]) == ("Loader()", {"workers": 4}, [])


def test_sarif_validates_against_the_2_1_0_schema(tmp_path: Path) -> None:
    """SARIF output is valid SARIF 2.1.0 (the OASIS JSON schema, vendored in tests/data)."""
    findings = [
        lint_finding("TSG351"),
        lint_finding("TSG652", line=7),
        lint_finding("TSG551", "b.py", 1),
    ]
    sarif = json.loads(render(findings, RunInfo("lint", files=2, root=str(tmp_path)), "sarif"))
    jsonschema.validate(sarif, SCHEMA)
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["TSG351", "TSG551", "TSG652"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"


def test_sarif_results_have_rules_regions_and_fingerprints() -> None:
    """Each result has a stable ruleId, relative uri with uriBaseId, a region and a fingerprint."""
    sarif = json.loads(render([lint_finding("TSG351")], RunInfo("lint"), "sarif"))
    result = sarif["runs"][0]["results"][0]
    loc = result["locations"][0]["physicalLocation"]
    assert (result["ruleId"], result["level"]) == ("TSG351", "error")
    assert loc["artifactLocation"] == {"uri": "pkg/data.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 20}
    rule = sarif["runs"][0]["tool"]["driver"]["rules"][0]
    assert (rule["helpUri"], rule["shortDescription"]["text"]) == (
        "docs/checks.md#tsg351",
        "An iterator's __next__ does not hold the lock it owns",
    )
    assert len(result["partialFingerprints"]["threadsafeGenFinding/v1"]) == 32


def test_sarif_fingerprint_ignores_line_moves() -> None:
    """Moving a finding to another line keeps its fingerprint (no duplicate alerts)."""
    a = json.loads(render([lint_finding("TSG351", line=3)], RunInfo("lint"), "sarif"))
    b = json.loads(render([lint_finding("TSG351", line=3)], RunInfo("lint"), "sarif"))
    fa = a["runs"][0]["results"][0]["partialFingerprints"]
    fb = b["runs"][0]["results"][0]["partialFingerprints"]
    assert fa == fb


def test_sarif_check_findings_use_the_target_file() -> None:
    """check findings have no position: SARIF points at the target's module file, line 1."""
    report = LoaderReport([make_finding("TSG101", path="loader.lock", message="cannot pickle")])
    info = RunInfo("check", target_file="pkg/loaders.py")
    sarif = json.loads(render(report.findings, info, "sarif"))
    jsonschema.validate(sarif, SCHEMA)
    loc = sarif["runs"][0]["results"][0]["locations"][0]
    assert (
        loc["physicalLocation"]["artifactLocation"]["uri"],
        loc["physicalLocation"]["region"],
    ) == (
        "pkg/loaders.py",
        {"startLine": 1},
    )
    assert loc["logicalLocations"] == [{"fullyQualifiedName": "loader.lock"}]


def test_github_annotation_format_and_escaping() -> None:
    """An annotation carries file, line, col and a title; commas, colons and newlines are escaped."""
    f = make_finding("TSG351", path="p", message="a, b: c\nd", location=Location("x,y.py", 2, 3))
    out = render([f], RunInfo("lint", files=1), "github").splitlines()
    assert out[0].startswith(
        "::error file=x%2Cy.py,line=2,col=3,title=TSG351 An iterator's __next__ does not hold the lock it owns::a, b: c%0Ad."
    )
    assert out[0].endswith(" (docs/checks.md#tsg351)")
    assert out[-1] == "threadsafe-gen lint: 1 error, 0 warnings, 0 info in 1 file."


def test_github_output_is_capped_per_level_with_a_summary() -> None:
    """25 errors give 9 annotations plus one 'and 16 more' summary, within GitHub's 10 per step."""
    findings = [lint_finding("TSG351", line=i) for i in range(1, 21)] + [
        lint_finding("TSG151", line=i) for i in range(1, 6)
    ]
    findings += [lint_finding("TSG652", line=i) for i in range(1, 4)]
    lines = render(findings, RunInfo("lint", files=1), "github").splitlines()
    errors = [ln for ln in lines if ln.startswith("::error ")]
    warnings = [ln for ln in lines if ln.startswith("::warning ")]
    assert (len(errors), len(warnings)) == (GITHUB_ANNOTATIONS_PER_LEVEL, 3)
    assert errors[-1].startswith(
        "::error title=and 16 more error findings::16 more error findings not annotated"
    )
    assert "TSG151 x" in errors[-1]
    # Ranking shows the first finding of every code before the second of any code.
    assert ["TSG151" in e for e in errors[:2]].count(True) == 1


def test_check_findings_in_github_point_at_target_file() -> None:
    """A check finding is annotated on the target file's first line."""
    f = make_finding("TSG101", path="loader.lock", message="cannot pickle")
    out = render([f], RunInfo("check", target_file="data.py"), "github")
    assert out.splitlines()[0].startswith("::error file=data.py,line=1,title=TSG101 ")


@pytest.mark.parametrize(("fail_on", "expected"), [("error", 0), ("warning", 1), ("info", 1)])
def test_exit_code_follows_fail_on(fail_on: str, expected: int) -> None:
    """Exit 1 only when a finding is at or above --fail-on."""
    assert exit_code([lint_finding("TSG652")], fail_on) == expected


def test_unknown_format_is_an_error() -> None:
    """An unknown format names the valid ones."""
    with pytest.raises(ValueError, match="expected one of text, json, sarif, github"):
        render([], RunInfo("lint"), "xml")


def test_schema_check_is_not_vacuous() -> None:
    """The vendored schema rejects a malformed result (so the validation above means something)."""
    sarif = json.loads(render([lint_finding("TSG351")], RunInfo("lint"), "sarif"))
    sarif["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError, match="fatal"):
        jsonschema.validate(sarif, SCHEMA)


def test_sarif_paths_outside_the_root_are_file_uris(tmp_path: Path) -> None:
    """A file outside the project root is an absolute file:// URI without uriBaseId."""
    outside = (tmp_path / "x.py").resolve().as_posix()
    sarif = json.loads(render([lint_finding("TSG351", file=outside)], RunInfo("lint"), "sarif"))
    jsonschema.validate(sarif, SCHEMA)
    artifact = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"
    ]
    assert artifact == {"uri": (tmp_path / "x.py").resolve().as_uri()}
