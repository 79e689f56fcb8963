"""One finding as data: :class:`Finding`, :func:`make_finding`, and the thresholds on them.

A :class:`Finding` is one occurrence of a registered code; what a code means (its title,
category, default severity, fix, docs anchor and examples) is in
:mod:`threadsafe_gen._registry`. Nothing here renders text: :mod:`threadsafe_gen._output`
turns findings into text, JSON, SARIF or GitHub annotations, and adds each code's docs
anchor there, once per finding.

Layers (each imports only the ones before it): ``_registry`` -> ``_finding`` -> ``_output``
-> ``_report`` -> the probes and the linter -> ``_cli``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ._registry import REGISTRY, Category, Check, Severity

__all__ = [
    "Finding",
    "Location",
    "ProbeResult",
    "at_least",
    "jsonable",
    "make_finding",
    "sort_findings",
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
        message: what happened, with numbers, and why it matters. Its code and docs
            anchor (``check.anchor``) are not part of it: every output format shows them
            next to it.
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
        """The registry entry of this finding's code (its title, fix and docs anchor)."""
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
            "details": jsonable(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """The finding :meth:`to_dict` returned (details come back as JSON types)."""
        location = data.get("location")
        return cls(
            code=data["code"],
            category=Category(data["category"]),
            severity=Severity(data["severity"]),
            path=data["path"],
            message=data["message"],
            hint=data["hint"],
            location=Location(**location) if location else None,
            details=dict(data.get("details") or {}),
        )


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
    hint defaults to the registry's fix; the message is ended with a full stop when it has
    none. The code and its docs anchor are added by the output, not to the message.
    """
    check = REGISTRY.get(code)
    if check is None:
        msg = f"unknown finding code {code!r}; registered codes are in threadsafe_gen._registry.REGISTRY"
        raise KeyError(msg)
    text = message.rstrip()
    if not text.endswith((".", "!", "?", ".)")):
        text += "."
    return Finding(
        code=code,
        category=check.category,
        severity=check.severity if severity is None else Severity(severity),
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


def at_least(findings: Iterable[Finding], severity: Severity | str) -> list[Finding]:
    """The findings at or above *severity* (``"warning"``: warnings and errors).

    The one place that compares severities: ``Report.ok``, ``Report.raise_for``,
    ``assert_loader_safe(fail_on=...)`` and the CLI's ``--fail-on`` all use it.

    Raises:
        ValueError: *severity* is not ``error``, ``warning`` or ``info``.
    """
    threshold = Severity(severity).rank
    return [f for f in findings if f.severity.rank >= threshold]


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by code and path (a stable, readable order)."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.code, f.path))


def jsonable(value: Any) -> Any:
    """Best-effort conversion of details to JSON types (repr for anything exotic)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return repr(value)
