"""What a lint returns (:class:`LintResult`), and how a selected draft becomes a Finding."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from .._findings import Finding, Location, Severity, make_finding
from .facts import At, Draft, Text
from .notebooks import Cells, place
from .suppressions import Suppression

__all__ = ["LintResult", "render", "sort_lint_findings"]


@dataclasses.dataclass
class LintResult:
    """What :func:`lint_paths` found.

    Attributes:
        findings: every finding that was not suppressed, most severe first, then by file.
        files: how many files were read.
        seconds: wall time of the run.
        unused_suppressions: ``# threadsafe-gen: ignore`` comments that suppressed nothing
            (reported as TSG653 findings only with ``report_unused_ignores=True``).
    """

    findings: list[Finding]
    files: int = 0
    seconds: float = 0.0
    unused_suppressions: list[Suppression] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no finding has error severity."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def codes(self) -> set[str]:
        """The set of codes found."""
        return {f.code for f in self.findings}


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
