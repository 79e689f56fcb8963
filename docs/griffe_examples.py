"""Griffe extension: docstring fixes applied when the API reference is rendered.

* Napoleon ``Example:`` sections render as example code blocks. Napoleon treats ``Example:``
  and ``Examples:`` alike, but griffe's Google parser takes the singular for a free-text
  admonition, so ``>>>`` lines would become Markdown prose (``x[1][:3]`` even becomes a broken
  link). The singular header is rewritten to the plural before parsing.
* ``>>>`` paragraphs written after the last section, without an ``Examples:`` header, get
  one; otherwise they would be rendered as prose.
* ``# NOTE [ ... ]`` blocks (the project's comment convention for concurrency invariants) are
  for maintainers. When one sits inside a docstring, its ``#`` lines would render as Markdown
  headings, so such paragraphs are left out of the reference.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension

_HEADER = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)


def _drop_note_blocks(text: str) -> str:
    paragraphs = re.split(r"\n[ \t]*\n", text)
    kept = [
        p
        for p in paragraphs
        if not (
            p.lstrip().startswith("# NOTE [")
            and all(line.lstrip().startswith("#") for line in p.strip().splitlines())
        )
    ]
    return "\n\n".join(kept)


def _section_doctests(text: str) -> str:
    """Put unindented ``>>>`` paragraphs (outside any section) under an ``Examples:`` header."""
    out: list[str] = []
    previous_was_doctest = False
    for para in re.split(r"\n[ \t]*\n", text):
        if para.startswith(">>>"):
            body = "\n".join("    " + line if line.strip() else "" for line in para.splitlines())
            if previous_was_doctest:
                out[-1] += "\n\n" + body
            else:
                out.append("Examples:\n" + body)
            previous_was_doctest = True
        else:
            out.append(para)
            previous_was_doctest = False
    return "\n\n".join(out)


class ExampleSections(Extension):
    """Render doctests as examples; leave ``# NOTE [ ... ]`` blocks out."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        docstring = getattr(obj, "docstring", None)
        if docstring is None:
            return
        value = docstring.value
        if "# NOTE [" in value:
            value = _drop_note_blocks(value)
        if "Example:" in value:
            value = _HEADER.sub(r"\g<indent>Examples:", value)
        if "\n>>>" in value or value.startswith(">>>"):
            value = _section_doctests(value)
        docstring.value = value
