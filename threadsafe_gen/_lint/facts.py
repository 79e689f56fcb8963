"""What the analysis of one file produces: draft findings and facts, all picklable.

A file is analysed once, possibly in a worker process; its :class:`FileFacts` travel back to
the main process, where selection, suppressions and the class index decide which drafts
become findings. A draft's message is rendered only then, from data: its position (a line,
or a notebook's cell and line) is never patched into text after the fact.
"""

from __future__ import annotations

import ast
import dataclasses

from .._registry import Severity
from .classes import Applies, ClassFacts
from .suppressions import Suppression

__all__ = ["At", "Draft", "FileFacts", "Span", "Text"]


@dataclasses.dataclass(frozen=True)
class Span:
    """A range of the analysed source: 1-based lines and columns (ends optional)."""

    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None

    @classmethod
    def of(cls, node: ast.AST) -> Span:
        """The span of an AST node (columns made 1-based)."""
        end_col = getattr(node, "end_col_offset", None)
        return cls(
            getattr(node, "lineno", 1),
            getattr(node, "col_offset", 0) + 1,
            getattr(node, "end_lineno", None),
            end_col + 1 if end_col is not None else None,
        )


@dataclasses.dataclass(frozen=True)
class At:
    """A placeholder in a message for where the finding is, filled in when it is rendered.

    Renders as ``line 3, column 5``, or ``cell 2, line 3, column 5`` in a notebook; without
    the column when *column* is false. With *span*, it renders that place instead (another
    call site the message lists).
    """

    column: bool = True
    span: Span | None = None


#: A message: text, with :class:`At` where the position goes.
Text = tuple[str | At, ...]


@dataclasses.dataclass(frozen=True)
class Draft:
    """A finding before selection: its code, position and message parts.

    Attributes:
        code: the registered code.
        path: the qualified name the finding is about (``pkg.data.Loader.__init__``).
        span: where, in the analysed source (a notebook's joined code cells).
        text: the message; the docs link is added when rendered.
        hint: how to fix it (default: the registry's fix).
        severity: a severity other than the registry's default.
        cls: the class (or function) the condition is about ("" for always).
        applies: when the finding holds (see NOTE [ Conditional findings ] in classes.py).
    """

    code: str
    path: str
    span: Span
    text: Text
    hint: str | None = None
    severity: Severity | None = None
    cls: str = ""
    applies: Applies = "always"


@dataclasses.dataclass
class FileFacts:
    """Everything the analysis of one file found: classes, draft findings, suppressions."""

    file: str
    classes: list[ClassFacts]
    drafts: list[Draft]
    suppressions: list[Suppression]
    # Notebooks: (cell number, line in cell) for each line of the joined code cells.
    cells: tuple[tuple[int, int], ...] = ()
    # Generator functions defined here ({qualified name: made thread-safe}), and functions of
    # other modules whose generators this file's fit() calls share with workers.
    generators: dict[str, bool] = dataclasses.field(default_factory=dict)
    shared_generators: tuple[str, ...] = ()
