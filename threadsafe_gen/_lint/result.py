"""What a lint returns (:class:`LintReport`), and how a selected draft becomes a Finding."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from .._finding import Finding, Location, make_finding
from .._output import RunInfo
from .._report import Report
from .facts import At, Draft, Text
from .notebooks import Cells, place
from .suppressions import Suppression

__all__ = ["LintReport", "LintResult", "render", "sort_lint_findings"]


@dataclasses.dataclass
class LintReport(Report):
    """What :func:`lint_paths` or :func:`lint_source` found.

    Like ``check_loader()``'s ``LoaderReport``: ``.findings``, ``.ok``, ``.codes()``,
    ``.raise_for(fail_on)``, ``.to_json()``, and ``str()`` for people (the text
    ``threadsafe-gen lint`` prints).

    Attributes:
        findings: every finding that was not suppressed, most severe first, then by file.
        files: how many files were read.
        seconds: wall time of the run.
        unused_suppressions: ``# threadsafe-gen: ignore`` comments that suppressed nothing
            (reported as TSG653 findings only with ``report_unused_ignores=True``).
    """

    files: int = 0
    seconds: float = 0.0
    unused_suppressions: list[Suppression] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of the whole report."""
        return {
            "ok": self.ok,
            "files": self.files,
            "seconds": self.seconds,
            "findings": [f.to_dict() for f in self.findings],
            "unused_suppressions": [
                {**dataclasses.asdict(s), "codes": None if s.codes is None else sorted(s.codes)}
                for s in self.unused_suppressions
            ],
        }

    def run_info(self) -> RunInfo:
        """The files read and the time taken, for the output formats."""
        return RunInfo("lint", files=self.files, seconds=self.seconds)

    def _failure(self, count: int, severity: str, codes: str) -> str:
        return (
            f"the linted code has {count} finding(s) at or above {severity} ({codes}). Fix "
            "them, or suppress an accepted risk with `# threadsafe-gen: ignore[CODE]`."
        )


LintResult = LintReport
"""Deprecated: the former name of `LintReport`, kept so that existing imports work."""


def _text(text: Text, file: str, cells: Cells, location: Location, cell: int | None) -> str:
    """A draft's message with its :class:`~.facts.At` parts filled in from its location
    (or from the span an ``At`` names)."""
    parts: list[str] = []
    for part in text:
        if isinstance(part, At):
            where, in_cell = (
                (location, cell) if part.span is None else place(file, part.span, cells)
            )
            at = f"line {where.line}"
            if part.column:
                at += f", column {where.column}"
            parts.append(at if in_cell is None else f"cell {in_cell}, {at}")
        else:
            parts.append(part)
    return "".join(parts)


def render(draft: Draft, file: str, cells: Cells) -> Finding:
    """The finding of a selected *draft* of *file*: located (in its cell), message built once."""
    location, cell = place(file, draft.span, cells)
    return make_finding(
        draft.code,
        path=draft.path,
        message=_text(draft.text, file, cells, location, cell),
        hint=draft.hint,
        severity=draft.severity,
        location=location,
        details={} if cell is None else {"cell": cell},
    )


def sort_lint_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by file, notebook cell, line, column and code."""
    return sorted(
        findings,
        key=lambda f: (
            -f.severity.rank,
            f.location.file if f.location else f.path,
            f.details.get("cell", 0),
            f.location.line if f.location else 0,
            f.location.column if f.location else 0,
            f.code,
        ),
    )
