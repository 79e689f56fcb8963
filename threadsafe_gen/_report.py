"""What a check or a lint returns: :class:`Report`, and the check's :class:`LoaderReport`.

Both reports (``LoaderReport`` here, ``LintReport`` in :mod:`threadsafe_gen._lint.result`)
share one base: their ``findings``, ``ok``, ``codes()``, ``raise_for(fail_on)``,
``to_json()`` and ``str()``, which is :func:`threadsafe_gen._output.render_text`.
"""

from __future__ import annotations

import abc
import dataclasses
import json
from typing import Any

from ._finding import Finding, ProbeResult, at_least, jsonable, sort_findings
from ._output import RunInfo, render_text
from ._registry import Severity
from .errors import LoaderCheckError

__all__ = ["LoaderReport", "Report"]


@dataclasses.dataclass
class Report(abc.ABC):
    """What a check or a lint found: its findings, most severe first.

    Attributes:
        findings: every finding that was not ignored or suppressed.
    """

    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """True when no finding has error severity."""
        return not at_least(self.findings, Severity.ERROR)

    def codes(self) -> set[str]:
        """The set of codes found (handy in tests: ``"TSG101" in report.codes()``)."""
        return {f.code for f in self.findings}

    def at_least(self, severity: Severity | str) -> list[Finding]:
        """The findings at or above *severity* (``"warning"``: warnings and errors)."""
        return at_least(self.findings, severity)

    def raise_for(self, fail_on: Severity | str = Severity.ERROR) -> None:
        """Raise :class:`~threadsafe_gen.errors.LoaderCheckError` if a finding is at or above *fail_on*.

        The exception is also an ``AssertionError``, so in pytest ``report.raise_for("warning")``
        is a whole test; its message says which codes failed, then shows this report.

        Raises:
            LoaderCheckError: a finding reached *fail_on* (``.report`` holds this report).
            ValueError: *fail_on* is not ``error``, ``warning`` or ``info``.
        """
        __tracebackhide__ = True  # pytest hides this frame
        threshold = Severity(fail_on)
        failing = self.at_least(threshold)
        if failing:
            codes = ", ".join(sorted({f.code for f in failing}))
            head = f"{self._failure(len(failing), threshold.value, codes)}\n\n"
            raise LoaderCheckError(head + str(self), self)

    def raise_for_errors(self) -> None:
        """:meth:`raise_for` ``"error"``: raise if any finding is an error.

        In pytest ``check_loader(ds, workers=4).raise_for_errors()`` is a whole test, and
        its failure message is this report.
        """
        __tracebackhide__ = True  # pytest hides this frame
        self.raise_for(Severity.ERROR)

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        return render_text(self.findings, self.run_info())

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of the whole report."""

    @abc.abstractmethod
    def run_info(self) -> RunInfo:
        """What the output formats show besides the findings (headers, summaries)."""

    @abc.abstractmethod
    def _failure(self, count: int, severity: str, codes: str) -> str:
        """The first line of :meth:`raise_for`'s message: what failed and what to do."""


@dataclasses.dataclass
class LoaderReport(Report):
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

    probes: list[ProbeResult] = dataclasses.field(default_factory=list)
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    loader: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.findings = sort_findings(self.findings)

    @property
    def errors(self) -> list[Finding]:
        """Findings with error severity."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Findings with warning severity."""
        return [f for f in self.findings if f.severity is Severity.WARNING]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of the whole report."""
        return {
            "loader": self.loader,
            "ok": self.ok,
            "settings": jsonable(self.settings),
            "findings": [f.to_dict() for f in self.findings],
            "probes": [dataclasses.asdict(p) for p in self.probes],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoaderReport:
        """The report :meth:`to_dict` returned (for example read back from ``to_json()``)."""
        return cls(
            findings=[Finding.from_dict(f) for f in data["findings"]],
            probes=[ProbeResult(**p) for p in data.get("probes", [])],
            settings=dict(data.get("settings", {})),
            loader=data.get("loader", ""),
            notes=list(data.get("notes", [])),
        )

    def run_info(self) -> RunInfo:
        """The check's loader, settings, probes and notes, for the output formats."""
        return RunInfo(
            "check",
            loader=self.loader,
            settings=self.settings,
            probes=self.probes,
            notes=self.notes,
        )

    def _failure(self, count: int, severity: str, codes: str) -> str:
        workers = self.settings.get("workers")
        planned = f" with workers={workers}" if workers is not None else ""
        return (
            f"loader is not safe{planned}: {count} finding(s) at or above {severity} "
            f"({codes}). Fix them, or pass ignore=[...] for accepted risks."
        )
