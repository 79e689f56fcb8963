"""Small text helpers for messages: bounded reprs, one-line excerpts, type names, exit codes.

Everything a finding or an error message shows of user data goes through here, so that a
million-item list, a 0.7 M-character exception message or a broken ``__repr__`` can never
turn one message into megabytes or into a crash of the checker itself.
"""

from __future__ import annotations

import reprlib
import signal
import types
from collections.abc import Iterable

__all__ = ["exit_description", "one_line", "short_repr", "some", "type_name"]

_REPR = reprlib.Repr()
_REPR.maxother = 120  # keep "<generator object name at 0x...>" whole
_REPR.maxstring = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 6
_REPR.maxlevel = 3


def one_line(text: str | None, limit: int = 200) -> str:
    """*text* folded onto one line and cut to *limit* characters, ``...`` marking a cut."""
    folded = " ".join((text or "").split())
    return folded if len(folded) <= limit else folded[: max(0, limit - 3)] + "..."


def short_repr(obj: object, limit: int = 120) -> str:
    """A one-line, bounded ``repr(obj)``; a failing ``__repr__`` is described, not raised."""
    try:
        text = _REPR.repr(obj)
    except Exception as exc:  # a broken __repr__ must not break the report
        text = f"<{type(obj).__name__} with failing repr: {type(exc).__name__}>"
    return one_line(text, limit)


def type_name(obj: object) -> str:
    """The qualified name of *obj*'s type (``builtins`` left out).

    Classes and functions are named themselves, as ``class mod.Name`` and
    ``function mod.name``, since their type (``type``, ``function``) says nothing.
    """
    if isinstance(obj, (type, types.FunctionType)):
        kind = "class" if isinstance(obj, type) else "function"
        return f"{kind} {obj.__module__}.{obj.__qualname__}"
    cls = type(obj)
    mod = cls.__module__
    return cls.__qualname__ if mod == "builtins" else f"{mod}.{cls.__qualname__}"


def some(values: Iterable[object], k: int = 8) -> str:
    """The first *k* of *values*, comma-separated, with ``...`` when there are more."""
    items = list(values)
    shown = ", ".join(str(v) for v in items[:k])
    return shown + (", ..." if len(items) > k else "")


def exit_description(exitcode: int | None) -> str:
    """How a child process ended, as a verb phrase: ``"was killed by SIGKILL"``."""
    if exitcode is None:
        return "stopped answering (it is still running)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name} (exit code {exitcode})"
    return f"exited with code {exitcode}"
