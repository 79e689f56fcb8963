"""Files the linter could not analyse (TSG852): unreadable, special, too large, too deeply
nested, not Python, not a notebook.

These findings come from the engine, not from an AST rule: a file that is not analysed
gets one TSG852 and the other files are still linted, so a hostile checkout can neither
hang nor crash a run. Whether ``--select`` may hide it: see NOTE [ TSG852 and selection ]
in options.py.
"""

from __future__ import annotations

from ..._text import one_line
from ..facts import At, Draft, Span

__all__ = [
    "CODES",
    "internal_error",
    "not_a_notebook",
    "not_python",
    "not_regular",
    "too_deep",
    "too_large",
    "unreadable",
    "unreadable_folder",
]

CODES = frozenset({"TSG852"})

#: How much of an error message from a parser or the OS a finding quotes.
_REASON_LIMIT = 200
_EXCLUDE = "exclude it (exclude= in [tool.threadsafe_gen])"


def _draft(shown: str, text: str, hint: str, span: Span | None = None) -> Draft:
    return Draft("TSG852", shown, span or Span(1, 1), (text,), hint=hint)


def _unreadable(shown: str, exc: OSError, what: str, skipped: str) -> Draft:
    """TSG852 on *shown*: *what* could not be read, so *skipped* not linted."""
    reason = one_line(exc.strerror or str(exc), _REASON_LIMIT)
    return _draft(
        shown,
        f"{what} could not be read ({reason}), so {skipped} not linted",
        f"Make it readable by the user running the lint, or {_EXCLUDE}.",
    )


def unreadable(shown: str, exc: OSError) -> Draft:
    """*shown* could not be opened or read."""
    return _unreadable(shown, exc, shown, "it was")


def unreadable_folder(shown: str, exc: OSError) -> Draft:
    """The folder *shown* could not be listed while walking a tree."""
    return _unreadable(shown, exc, f"the folder {shown}", "the files in it were")


def not_regular(shown: str, kind: str) -> Draft:
    """*shown* is a FIFO, a device or another special file: reading it could block or never end."""
    return _draft(
        shown,
        f"{shown} is {kind}, not a regular file, so it was not linted (reading it could "
        "block or never end)",
        f"Keep only source files under a linted name, or {_EXCLUDE}.",
    )


def too_large(shown: str, size: int, limit: int) -> Draft:
    """*shown* is above the size cap (*size* bytes read or reported so far)."""
    return _draft(
        shown,
        f"{shown} is {size} bytes, more than the lint's limit of {limit} bytes, so it was "
        "not read or linted",
        f"Generated code needs no lint: {_EXCLUDE}; or raise LintOptions.max_file_size.",
    )


def too_deep(shown: str) -> Draft:
    """*shown* nests expressions or blocks deeper than Python's parser (or the rules) can go."""
    return _draft(
        shown,
        f"{shown} is too deeply nested for Python's parser (or for the linter's analysis), "
        "so it was not linted; Python cannot import it either",
        f"Split the deeply nested expression or block, or {_EXCLUDE}.",
    )


def internal_error(shown: str, exc: Exception) -> Draft:
    """The linter itself failed on *shown*: reported for that file, the run goes on."""
    reason = one_line(f"{type(exc).__name__}: {exc}", _REASON_LIMIT)
    return _draft(
        shown,
        f"the linter failed on {shown} ({reason}), so it was not linted",
        f"Please report this bug with the file (or a reduced copy) attached; meanwhile {_EXCLUDE}.",
    )


def not_a_notebook(shown: str, reason: str) -> Draft:
    """*shown* ends in ``.ipynb`` but is not a notebook the linter can read."""
    text = f"{shown} is not a readable notebook ({one_line(reason, _REASON_LIMIT)}), so it was not linted"
    return _draft(shown, text, f"Open and save it in Jupyter to repair it, or {_EXCLUDE}.")


def not_python(shown: str, reason: str, line: int, column: int) -> Draft:
    """*shown* does not parse: *reason* at *line*, *column* of the analysed source.

    Python reports some errors at line 0 or column -1 (an unknown coding cookie); those
    point at line 1 or column 1, since SARIF and editors count from 1.
    """
    span = Span(max(line, 1), max(column, 1))
    reason = one_line(reason, _REASON_LIMIT)
    text = (f"{shown} is not valid Python ({reason} at ", At(), "), so it was not linted")
    return Draft("TSG852", shown, span, text)
