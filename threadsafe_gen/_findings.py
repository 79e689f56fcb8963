"""Findings as data: the Finding record, make_finding() and the LoaderReport.

A :class:`Finding` is one occurrence of a registered code; what a code means (its title,
category, default severity, fix and examples) is in :mod:`threadsafe_gen._registry`, whose
names are re-exported here for the modules that import them from ``_findings``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from ._registry import DOCS_CHECKS_PAGE, REGISTRY, Category, Check, Severity, docs_anchor
from .errors import LoaderCheckError

__all__ = [
    "DOCS_CHECKS_PAGE",
    "REGISTRY",
    "Category",
    "Check",
    "Finding",
    "LoaderReport",
    "Location",
    "ProbeResult",
    "Severity",
    "docs_anchor",
    "make_finding",
]


@dataclasses.dataclass(frozen=True)
class Location:
    """A place in a source file (1-based line, 1-based column), for static findings."""

    file: str
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem found by ``check_loader()`` or the linter.

    Attributes:
        code: stable code such as ``"TSG101"``; the key for suppression and docs.
        category: one of :class:`Category`.
        severity: ``error``, ``warning`` or ``info``.
        path: where in the loader (``loader.conn``, ``loader.cfg['aug'].lock``), or the
            qualified name of the code for static findings.
        message: what happened, with numbers, and why it matters; ends with the code and
            its docs anchor.
        hint: how to fix it.
        location: file position for static findings, else ``None``.
        details: extra machine-readable data (indices, counts, traceback text).
    """

    code: str
    category: Category
    severity: Severity
    path: str
    message: str
    hint: str
    location: Location | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def check(self) -> Check:
        """The registry entry of this finding's code."""
        return REGISTRY[self.code]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (enums as their string values)."""
        return {
            "code": self.code,
            "category": self.category.value,
            "severity": self.severity.value,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
            "location": dataclasses.asdict(self.location) if self.location else None,
            "details": _jsonable(self.details),
        }

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.code} [{self.severity}] {self.path}: {self.message}\n    fix: {self.hint}"


def make_finding(
    code: str,
    *,
    path: str,
    message: str,
    hint: str | None = None,
    severity: Severity | str | None = None,
    location: Location | None = None,
    details: Mapping[str, Any] | None = None,
) -> Finding:
    """Build a :class:`Finding` for a registered *code*.

    The category comes from the registry; the severity defaults to the registry's; the
    hint defaults to the registry's fix; the message gets ``(CODE, see <anchor>)``
    appended so every message names its code and docs entry.
    """
    check = REGISTRY.get(code)
    if check is None:
        msg = f"unknown finding code {code!r}; registered codes are in threadsafe_gen._registry.REGISTRY"
        raise KeyError(msg)
    sev = check.severity if severity is None else Severity(severity)
    text = message.rstrip()
    if not text.endswith((".", "!", "?", ")")):
        text += "."
    text = f"{text} ({code}, see {check.anchor})"
    return Finding(
        code=code,
        category=check.category,
        severity=sev,
        path=path,
        message=text,
        hint=hint if hint is not None else check.fix,
        location=location,
        details=dict(details or {}),
    )


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """How one probe of ``check_loader()`` went: its name, status and time taken."""

    name: str
    status: Literal["ran", "skipped", "timeout", "failed"]
    seconds: float
    note: str = ""


@dataclasses.dataclass
class LoaderReport:
    """What ``check_loader()`` found.

    Attributes:
        findings: every finding, most severe first.
        probes: one :class:`ProbeResult` per probe, with timing.
        settings: the workers, use_multiprocessing, start_method, python version and
            so on that the check assumed.
        loader: a short description of the loader checked.
        notes: why a step of the check was skipped or cut short (for example "fork is not
            available on this platform"), so a clean report says what it did not cover.
    """

    findings: list[Finding]
    probes: list[ProbeResult] = dataclasses.field(default_factory=list)
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    loader: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.findings = sort_findings(self.findings)

    @property
    def ok(self) -> bool:
        """True when no finding has error severity."""
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        """Findings with error severity."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Findings with warning severity."""
        return [f for f in self.findings if f.severity is Severity.WARNING]

    def codes(self) -> set[str]:
        """The set of codes found (handy in tests: ``"TSG101" in report.codes()``)."""
        return {f.code for f in self.findings}

    def raise_for_errors(self) -> None:
        """Raise :class:`~threadsafe_gen.errors.LoaderCheckError` if any finding is an error.

        The exception is also an ``AssertionError``, so in pytest
        ``check_loader(ds, workers=4).raise_for_errors()`` is a whole test, and its failure
        message is this report.
        """
        __tracebackhide__ = True  # pytest hides this frame
        if not self.ok:
            raise LoaderCheckError(str(self), self)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of the whole report."""
        return {
            "loader": self.loader,
            "ok": self.ok,
            "settings": _jsonable(self.settings),
            "findings": [f.to_dict() for f in self.findings],
            "probes": [dataclasses.asdict(p) for p in self.probes],
            "notes": list(self.notes),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        return render_text(self)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by code and path (a stable, readable order)."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.code, f.path))


def summary_line(findings: Sequence[Finding]) -> str:
    """``"2 errors, 1 warning, 0 info"``."""
    n = {s: sum(1 for f in findings if f.severity is s) for s in Severity}

    def plural(k: int, word: str) -> str:
        return f"{k} {word}" + ("" if k == 1 or word == "info" else "s")

    return ", ".join(
        (
            plural(n[Severity.ERROR], "error"),
            plural(n[Severity.WARNING], "warning"),
            plural(n[Severity.INFO], "info"),
        )
    )


def render_text(report: LoaderReport) -> str:
    """Render a report for people: settings, findings, probe timings, summary last."""
    lines: list[str] = []
    head = f"threadsafe_gen check of {report.loader}" if report.loader else "threadsafe_gen check"
    lines.append(head)
    if report.settings:
        shown = ", ".join(f"{k}={v}" for k, v in report.settings.items())
        lines.append(f"  settings: {shown}")
    lines.append("")
    if not report.findings:
        lines.append("No problems found.")
    for f in report.findings:
        lines.append(f"{f.code} [{f.severity}] {f.category}: {f.path}")
        lines.append(f"    {f.message}")
        lines.append(f"    fix: {f.hint}")
    if report.probes:
        lines.append("")
        timing = ", ".join(
            f"{p.name} {p.seconds:.2f}s" + ("" if p.status == "ran" else f" ({p.status})")
            for p in report.probes
        )
        lines.append(f"  probes: {timing}")
    if report.notes:
        lines.append("  notes:")
        lines.extend(f"    - {note}" for note in report.notes)
    lines.append("")
    verdict = "OK" if report.ok else "FAILED"
    lines.append(f"{verdict}: {summary_line(report.findings)}")
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    """Best-effort conversion of details to JSON types (repr for anything exotic)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return repr(value)
