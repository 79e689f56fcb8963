"""Jupyter notebooks: their code cells joined into one module, and positions mapped back.

A notebook is linted as the module its code cells form. Each line of that module maps back
to (cell, line in cell), so findings point where the user reads them.
"""

from __future__ import annotations

import json

from .._finding import Location
from .facts import Span

__all__ = ["Cells", "notebook_source", "place"]

#: (cell number, line in cell) for each line of the joined code cells (1-based).
Cells = tuple[tuple[int, int], ...]


def _cell_text(cell: dict[str, object], number: int) -> str:
    """The source of a code cell: a string, or a list of strings (nbformat 4)."""
    src = cell.get("source", "")
    if isinstance(src, str):
        return src
    if isinstance(src, list):
        odd = next((item for item in src if not isinstance(item, str)), None)
        if odd is None:
            return "".join(src)
        msg = f"cell {number}'s source is a list with a {type(odd).__name__} in it, not text"
        raise ValueError(msg)
    what = "null" if src is None else f"a {type(src).__name__}"
    msg = f"cell {number}'s source is {what}, not text"
    raise ValueError(msg)


def notebook_source(raw: bytes) -> tuple[bytes, Cells]:
    """Join a notebook's code cells into one module; map each line back to (cell, line).

    IPython magics and shell escapes (``%time``, ``!pip``) become blank lines or ``pass`` so
    the rest parses; a cell magic (``%%bash``) blanks its whole cell. Line numbers are kept.

    Raises:
        ValueError: not JSON, not a notebook in nbformat 4, or a malformed cell (one that is
            not an object, or whose source is not text): Jupyter would not open it either.
    """
    try:
        nb = json.loads(raw)
    except RecursionError:
        msg = "nested too deeply to read"
        raise ValueError(msg) from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        msg = "no 'cells' list (not a Jupyter notebook in nbformat 4)"
        raise ValueError(msg)
    out: list[str] = []
    where: list[tuple[int, int]] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            msg = f"cell {number} is not a JSON object"
            raise ValueError(msg)
        if cell.get("cell_type") != "code":
            continue
        text = _cell_text(cell, number)
        magic_cell = text.lstrip().startswith("%%")
        for i, line in enumerate(text.split("\n"), start=1):
            stripped = line.lstrip()
            if magic_cell:
                line = ""
            elif stripped.startswith(("%", "!")):
                indent = line[: len(line) - len(stripped)]
                line = f"{indent}pass" if indent else ""
            out.append(line)
            where.append((number, i))
    return "\n".join(out).encode(), tuple(where)


def place(file: str, span: Span, cells: Cells) -> tuple[Location, int | None]:
    """The location of *span* in *file*, and its notebook cell (``None`` for a module).

    In a notebook the lines are those of the cell; an end in another cell is dropped.
    """
    if not cells:
        return Location(file, span.line, span.column, span.end_line, span.end_column), None
    cell, line = cells[min(max(span.line, 1), len(cells)) - 1]
    end_line = None
    if span.end_line is not None and 1 <= span.end_line <= len(cells):
        end_cell, end = cells[span.end_line - 1]
        end_line = end if end_cell == cell else None
    end_column = span.end_column if end_line is not None else None
    return Location(file, line, span.column, end_line, end_column), cell
