"""The accuracy corpus (issue 10): realistic loaders with expectations written as data.

Each module of tests/corpus/ declares what the linter and the checker must report and what would
be a false alarm (its ``EXPECT``); these tests enforce it. A loader that today's code gets wrong
carries the issue-10 item it waits for (``lint_xfail``/``check_xfail``/``stable_xfail``/
``noise_xfail``) and is a strict xfail: the fix turns it into a failure, and the mark goes.
benchmarks/accuracy.py measures precision and recall from the same data (docs/accuracy.md).

Speed (the whole suite must fit a 2-core CI machine): each loader is checked once with every
probe its expectations can judge (the spawn dry run, seconds per TensorFlow loader, only where
an expectation names a code it reports), and that report serves the expectation, noise and
first determinism runs.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus import (
    CORPUS_DIR,
    Expect,
    Unavailable,
    load,
    matches,
    module_names,
    needs_keras,
    needs_provoked_race,
    uses_postgres,
    xfail_reasons,
)
from corpus._evaluate import (
    check,
    judge,
    lint_corpus,
    missing_needs,
    postgres_provider,
    workspace,
)

from threadsafe_gen import REGISTRY, Finding, LoaderReport
from threadsafe_gen._probes._race import RACES_PROVOKABLE

NAMES = module_names()
REPEATS = 10
PSYCOPG_GC_WARNING = (
    "ignore:Exception ignored in.*BaseConnection.__del__:pytest.PytestUnraisableExceptionWarning"
)
#: Every probe but the spawn dry run, whose child only unpickles the loader and imports its
#: module (seconds each with TensorFlow).
REPEAT_PROBES = [
    "sequential",
    "structure",
    "state",
    "resources",
    "order",
    "threads",
    "duplicates",
    "pickling",
    "fork_dry_run",
    "process_inspection",
]
#: Every code the spawn dry run can report. A loader whose expectations name none of them is
#: checked without it: the spawn dry run runs last and reads nothing back, so it could only
#: add findings that no expectation judges.
SPAWN_CODES = ("TSG101", "TSG102", "TSG104", "TSG702", "TSG801", "TSG802", "TSG821", "TSG822")
#: Codes about the process the check runs in, not the loader: TSG204 counts this process's
#: threads when workers would fork, which a test session changes as it goes (TensorFlow
#: starts its thread pools on first use). The determinism test leaves them out.
ENVIRONMENT_CODES = frozenset({"TSG204"})


def _marks(name: str, xfail_field: str | None, *, runs: bool) -> list[Any]:
    marks: list[Any] = []
    if runs and needs_keras(name):
        marks += [pytest.mark.keras, pytest.mark.slow]
    elif runs and uses_postgres(name):
        marks.append(pytest.mark.slow)
    reasons = xfail_reasons(name)
    if runs and uses_postgres(name):
        # psycopg warns when a connection is garbage-collected open: PerProcess drops the
        # connections of loader copies made by the check without calling close=.
        marks.append(pytest.mark.filterwarnings(PSYCOPG_GC_WARNING))
    if xfail_field and reasons.get(xfail_field):
        marks.append(pytest.mark.xfail(strict=True, reason=reasons[xfail_field]))
    elif runs and xfail_field in ("check_xfail", "stable_xfail") and reasons.get("flaky"):
        marks.append(pytest.mark.xfail(strict=False, reason=reasons["flaky"]))
    elif (
        runs
        and xfail_field in ("check_xfail", "stable_xfail")
        and not RACES_PROVOKABLE
        and needs_provoked_race(name)
    ):
        marks.append(
            pytest.mark.xfail(strict=False, reason="a thread race found by luck on Python 3.10")
        )
    return marks


def _params(xfail_field: str | None, *, runs: bool) -> list[Any]:
    return [pytest.param(n, id=n, marks=_marks(n, xfail_field, runs=runs)) for n in NAMES]


@pytest.fixture(scope="module")
def corpus_lint() -> dict[str, list[Finding]]:
    findings, _ = lint_corpus()
    return findings


@pytest.fixture(scope="module")
def postgres() -> Iterator[Callable[[], str]]:
    with postgres_provider() as provider:
        yield provider


_REPORTS: dict[str, LoaderReport] = {}


def _expect(name: str) -> Expect:
    if needs_keras(name):
        pytest.importorskip("tensorflow")
    try:
        expect: Expect = load(name).EXPECT
    except ModuleNotFoundError as exc:  # a library of the [corpus] extra is not installed
        pytest.skip(f"needs {exc.name}")
    return expect


def _probes(expect: Expect) -> list[str]:
    """The probes whose findings *expect* can judge (see :data:`SPAWN_CODES`)."""
    entries = [*expect.check_must, *expect.check_must_not, *expect.at_most]
    judged = any(
        matches(entry, code, severity)
        for entry in entries
        for code in SPAWN_CODES
        for severity in ("error", "warning", "info")
    )
    return [*REPEAT_PROBES, "spawn_dry_run"] if judged else REPEAT_PROBES


def _report(name: str, postgres: Callable[[], str]) -> LoaderReport:
    """The check of one corpus loader with its author's settings, run once per session (the
    expectation test's, and the determinism test's first run when the probes are the same)."""
    if name not in _REPORTS:
        expect = _expect(name)
        if expect.loader is None:
            pytest.skip("linted only: " + expect.why)
        missing = missing_needs(expect)
        if missing:
            pytest.skip(f"needs {', '.join(missing)}")
        try:
            with workspace(postgres) as ws:
                _REPORTS[name] = check(expect, ws, probes=_probes(expect))
        except Unavailable as exc:
            pytest.skip(str(exc))
    return _REPORTS[name]


def _explain(tool: str, name: str, found: list[Finding], expect: Expect) -> str:
    lines = [f"{tool} on corpus/{name}.py ({expect.source}): {expect.why}"]
    lines += [f"  {f.code} [{f.severity.value}] {f.path}: {f.message[:160]}" for f in found]
    return "\n".join(lines)


# --- the corpus itself ------------------------------------------------------------------------


def test_corpus_has_at_least_60_loaders_a_third_of_them_clean() -> None:
    expects = {}
    for n in NAMES:
        if not needs_keras(n):
            with contextlib.suppress(ModuleNotFoundError):  # a [corpus] library may be absent
                expects[n] = load(n).EXPECT
    assert len(NAMES) >= 60
    clean = [n for n in NAMES if not _static_must(n)]
    assert 0.25 <= len(clean) / len(NAMES) <= 0.5, clean
    assert expects  # the non-Keras half imports without TensorFlow


def _static_must(name: str) -> bool:
    return bool(re.search(r"\b(lint|check)_must=", _source(name)))


@pytest.mark.parametrize("name", NAMES)
def test_each_loader_names_the_public_code_it_is_modelled_on(name: str) -> None:
    text = (CORPUS_DIR / f"{name}.py").read_text()
    match = re.search(r'source="([\w.-]+/[\w.-]+):([^"]+)"', text)
    assert match, f"corpus/{name}.py: EXPECT needs source='owner/repo:path'"
    assert "# Modelled on:" in text, f"corpus/{name}.py: a '# Modelled on:' comment is missing"
    header = re.sub(r"\s*\n#\s*", "", text.split("EXPECT = ")[0])  # join wrapped comments
    assert match.group(1) in header, (
        f"corpus/{name}.py: the '# Modelled on:' comment must cite {match.group(1)}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_expectations_name_real_codes_of_the_right_tool(name: str) -> None:
    text = (CORPUS_DIR / f"{name}.py").read_text()
    for field, kind in (
        ("lint_must", "lint"),
        ("lint_must_not", "lint"),
        ("check_must", "check"),
        ("check_must_not", "check"),
    ):
        block = re.search(rf"\b{field}=\{{([^}}]*)\}}", text)
        if not block:
            continue
        for entry in re.findall(r'"([^"]+)"', block.group(1)):
            codes = [c.code for c in REGISTRY.values() if c.kind == kind]
            hits = [
                c for c in codes if any(matches(entry, c, s) for s in ("error", "warning", "info"))
            ]
            assert hits, f"corpus/{name}.py {field}: {entry!r} names no {kind} code"


# --- lint ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _params("lint_xfail", runs=False))
def test_lint_finds_what_a_reader_sees(name: str, corpus_lint: dict[str, list[Finding]]) -> None:
    expect = _lint_expect(name)
    found = corpus_lint.get(name, [])
    verdict = judge(found, expect.lint_must, expect.lint_must_not)
    assert verdict.ok, (
        f"false alarms {sorted(verdict.false_pos)}, missed {sorted(verdict.false_neg)}\n"
        + _explain("lint", name, found, expect)
    )


def _lint_expect(name: str) -> Expect:
    """EXPECT for the lint: TensorFlow modules are read without TensorFlow when it is absent."""
    with contextlib.suppress(ImportError):
        expect: Expect = load(name).EXPECT
        return expect
    pytest.skip("the module cannot be imported here (its expectations live in it)")


def test_lint_of_the_whole_corpus_is_fast() -> None:
    _, seconds = lint_corpus()
    assert seconds < 2.0  # target 1 s (benchmarks/accuracy.py); slack for a loaded CI machine


# --- check --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _params("check_xfail", runs=True))
def test_check_finds_what_a_reader_sees(name: str, postgres: Callable[[], str]) -> None:
    report = _report(name, postgres)
    expect = _expect(name)
    verdict = judge(report.findings, expect.check_must, expect.check_must_not)
    assert verdict.ok, (
        f"false alarms {sorted(verdict.false_pos)}, missed {sorted(verdict.false_neg)}\n"
        + _explain("check", name, report.findings, expect)
    )


def _source(name: str) -> str:
    return (CORPUS_DIR / f"{name}.py").read_text()


@pytest.mark.parametrize(
    "name", [p for p in _params("noise_xfail", runs=True) if "at_most=" in _source(p.values[0])]
)
def test_one_root_cause_gives_one_finding(name: str, postgres: Callable[[], str]) -> None:
    report = _report(name, postgres)
    expect = _expect(name)
    for code, limit in expect.at_most.items():
        n = sum(f.code == code for f in report.findings)
        assert n <= limit, f"{n} findings of {code}, at most {limit}\n" + _explain(
            "check", name, report.findings, expect
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", _params("stable_xfail", runs=True))
def test_check_gives_the_same_codes_and_severities_every_run(
    name: str, postgres: Callable[[], str]
) -> None:
    """10 checks of a fresh copy of the loader give the same codes and severities (issue 10).

    The expectation test's check is the first of the 10 when it ran the same probes (every
    probe but the spawn dry run; see :data:`REPEAT_PROBES` and :func:`_probes`).
    """
    expect = _expect(name)
    first = _report(name, postgres)  # skips linted-only and unavailable loaders
    reports = [first] if _probes(expect) == REPEAT_PROBES else []
    try:
        while len(reports) < REPEATS:
            with workspace(postgres) as ws:
                reports.append(check(expect, ws, probes=REPEAT_PROBES))
    except Unavailable as exc:
        pytest.skip(str(exc))
    seen = [
        sorted({(f.code, f.severity.value) for f in r.findings if f.code not in ENVIRONMENT_CODES})
        for r in reports
    ]
    distinct = {tuple(s) for s in seen}
    assert len(distinct) == 1, (
        f"{len(distinct)} different answers in {REPEATS} checks: "
        + "; ".join(
            ", ".join(f"{c}:{s}" for c, s in answer) or "none" for answer in sorted(distinct)
        )
    )


def test_corpus_paths_are_files() -> None:
    assert all((CORPUS_DIR / f"{n}.py").is_file() for n in NAMES)
    assert Path(CORPUS_DIR, "__init__.py").is_file()
