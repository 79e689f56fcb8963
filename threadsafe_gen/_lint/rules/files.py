"""Files the linter could not analyse (TSG852): unreadable, not Python, not a notebook.

These findings come from the engine, not from an AST rule: a file that is not analysed
gets one TSG852 and the other files are still linted. Whether ``--select`` may hide it:
see NOTE [ TSG852 and selection ] in options.py.
"""

from __future__ import annotations

from ..._text import one_line
from ..facts import At, Draft, Span

__all__ = ["CODES", "not_a_notebook", "not_python", "unreadable"]

CODES = frozenset({"TSG852"})

#: How much of an error message from a parser or the OS a finding quotes.
_REASON_LIMIT = 200


def unreadable(shown: str, exc: OSError) -> Draft:
    """*shown* could not be read."""
    reason = one_line(exc.strerror or str(exc), _REASON_LIMIT)
    text = f"{shown} could not be read ({reason}), so it was not linted"
    return Draft("TSG852", shown, Span(1, 1), (text,))


def not_a_notebook(shown: str, reason: str) -> Draft:
    """*shown* ends in ``.ipynb`` but is not a notebook the linter can read."""
    text = f"{shown} is not a readable notebook ({one_line(reason, _REASON_LIMIT)}), so it was not linted"
    return Draft("TSG852", shown, Span(1, 1), (text,))


def not_python(shown: str, reason: str, line: int, column: int) -> Draft:
    """*shown* does not parse: *reason* at *line*, *column* of the analysed source."""
    span = Span(line, column)
    reason = one_line(reason, _REASON_LIMIT)
    text = (f"{shown} is not valid Python ({reason} at ", At(), "), so it was not linted")
    return Draft("TSG852", shown, span, text)
