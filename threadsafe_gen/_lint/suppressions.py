"""``# threadsafe-gen: ignore[...]`` comments: finding them, matching findings, the unused ones."""

from __future__ import annotations

import dataclasses
import io
import re
import tokenize

__all__ = ["LineSuppressions", "Suppression", "parse_suppressions"]

_SUPPRESS_RE = re.compile(r"#\s*threadsafe-gen\s*:\s*ignore\b(?:\[([^\]]*)\])?", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Suppression:
    """One ``# threadsafe-gen: ignore[...]`` comment: its line and codes (``None`` = all)."""

    file: str
    line: int
    codes: frozenset[str] | None
    cell: int | None = None  # notebooks: the code cell (1-based), *line* is within it


def parse_suppressions(raw: bytes, shown: str) -> list[Suppression]:
    """The suppression comments of one module's source (tokenized: never a string's text)."""
    if b"threadsafe-gen" not in raw:  # fast path: tokenizing every file costs ~20 % of a run
        return []
    out: list[Suppression] = []
    try:
        tokens = list(tokenize.tokenize(io.BytesIO(raw).readline))
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return out  # the file does not parse either: TSG852 says so
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        m = _SUPPRESS_RE.search(tok.string)
        if m is None:
            continue
        codes = None
        if m.group(1) is not None:
            codes = frozenset(c.strip().upper() for c in m.group(1).split(",") if c.strip())
        out.append(Suppression(shown, tok.start[0], codes))
    return out


class LineSuppressions:
    """The suppressions of one file, matched against its findings line by line.

    Use :meth:`suppresses` for each finding that passed selection, then :meth:`unused` for
    what suppressed nothing (TSG653). Lines are those of the analysed source (for a
    notebook, of its joined code cells).
    """

    def __init__(self, suppressions: list[Suppression]) -> None:
        self._all = suppressions
        self._by_line: dict[int, list[Suppression]] = {}
        for s in suppressions:
            self._by_line.setdefault(s.line, []).append(s)
        self._used: set[tuple[int, str | None]] = set()

    def suppresses(self, code: str, line: int) -> bool:
        """True when a comment on *line* silences *code*; the comment is then used."""
        hit = False
        for s in self._by_line.get(line, ()):
            if s.codes is None:
                self._used.add((s.line, None))
                hit = True
            elif code in s.codes:
                self._used.add((s.line, code))
                hit = True
        return hit

    def unused(self) -> list[Suppression]:
        """Comments (or the codes of a comment) that silenced nothing, in file order."""
        out: list[Suppression] = []
        for s in self._all:
            if s.codes is None:
                if (s.line, None) not in self._used:
                    out.append(s)
                continue
            left = frozenset(c for c in s.codes if (s.line, c) not in self._used)
            if left:
                out.append(dataclasses.replace(s, codes=left))
        return out
