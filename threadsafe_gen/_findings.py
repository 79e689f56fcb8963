"""The findings API the probes and the linter import: one import for codes, findings and reports.

It defines nothing. The registry of codes (what each code means) is in
:mod:`threadsafe_gen._registry`; one finding (:class:`Finding`, :func:`make_finding`) in
:mod:`threadsafe_gen._finding`; the reports (:class:`Report`, :class:`LoaderReport`) in
:mod:`threadsafe_gen._report`; every rendering of them in :mod:`threadsafe_gen._output`.
"""

from __future__ import annotations

from ._finding import (
    Finding,
    Location,
    ProbeResult,
    at_least,
    jsonable,
    make_finding,
    sort_findings,
)
from ._registry import DOCS_CHECKS_PAGE, REGISTRY, Category, Check, Severity, docs_anchor
from ._report import LoaderReport, Report

__all__ = [
    "DOCS_CHECKS_PAGE",
    "REGISTRY",
    "Category",
    "Check",
    "Finding",
    "LoaderReport",
    "Location",
    "ProbeResult",
    "Report",
    "Severity",
    "at_least",
    "docs_anchor",
    "jsonable",
    "make_finding",
    "sort_findings",
]
