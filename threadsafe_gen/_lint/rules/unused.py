"""Suppression comments that suppress nothing (TSG653, with ``report_unused_ignores``).

Built by the engine after every file's findings are matched against its comments.
"""

from __future__ import annotations

from ..._registry import REGISTRY
from ..facts import At, Draft, Span
from ..suppressions import Suppression

__all__ = ["CODES", "unused_suppression"]

CODES = frozenset({"TSG653"})


def unused_suppression(s: Suppression) -> Draft:
    """The TSG653 draft for one comment (*s.line* is a line of the analysed source)."""
    what = "ignore" if s.codes is None else f"ignore[{','.join(sorted(s.codes))}]"
    unknown = sorted(c for c in s.codes or () if c not in REGISTRY)
    why = ""
    if unknown:
        verb = "is not a registered code" if len(unknown) == 1 else "are not registered codes"
        why = f"; {', '.join(unknown)} {verb}"
    text = (f"`# threadsafe-gen: {what}` suppresses nothing on ", At(column=False), why)
    return Draft("TSG653", s.file, Span(s.line, 1), text)
