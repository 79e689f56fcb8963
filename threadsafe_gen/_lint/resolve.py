"""Across files: decide which drafts become findings, then render them.

Selection comes first (codes, per-file ignores, the class index's conditions, inline
suppressions); a draft's message and position are rendered only for what is kept.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping

from .._finding import Finding
from .classes import ClassIndex
from .facts import FileFacts
from .result import LintReport, render, sort_lint_findings
from .rules.unused import unused_suppression
from .suppressions import LineSuppressions, Suppression

__all__ = ["resolve"]


def resolve(
    facts: list[FileFacts],
    enabled: frozenset[str],
    report_unused: bool,
    per_file_ignores: Mapping[str, frozenset[str]],
) -> LintReport:
    """The findings of files analysed together.

    Args:
        facts: each file's facts.
        enabled: the codes to report (:func:`~.options.enabled_codes`).
        report_unused: add TSG653 for suppression comments that suppressed nothing.
        per_file_ignores: ``{glob: codes}`` dropped for files whose shown path matches.
    """
    index = ClassIndex(
        (c for ff in facts for c in ff.classes),
        {q: safe for ff in facts for q, safe in ff.generators.items()},
        {q for ff in facts for q in ff.shared_generators},
    )
    findings: list[Finding] = []
    unused: list[Suppression] = []
    for ff in facts:
        ignored = frozenset().union(
            *(codes for glob, codes in per_file_ignores.items() if fnmatch.fnmatch(ff.file, glob))
        )
        selected = enabled - ignored
        comments = LineSuppressions(ff.suppressions)
        for draft in ff.drafts:
            if draft.code not in selected or not index.applies(draft.applies, draft.cls):
                continue
            if not comments.suppresses(draft.code, draft.span.line):
                findings.append(render(draft, ff.file, ff.cells))
        for s in comments.unused():
            if report_unused and "TSG653" in selected:
                findings.append(render(unused_suppression(s), ff.file, ff.cells))
            unused.append(_in_cell(s, ff.cells))
    return LintReport(findings=sort_lint_findings(findings), unused_suppressions=unused)


def _in_cell(s: Suppression, cells: tuple[tuple[int, int], ...]) -> Suppression:
    """A notebook's suppression with its line in its cell."""
    if cells and 1 <= s.line <= len(cells):
        cell, line = cells[s.line - 1]
        return dataclasses.replace(s, line=line, cell=cell)
    return s
