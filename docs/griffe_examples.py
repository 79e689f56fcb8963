"""Griffe extension: docstring fixes applied when the API reference is rendered.

* Napoleon ``Example:`` sections render as example code blocks. Napoleon treats ``Example:``
  and ``Examples:`` alike, but griffe's Google parser takes the singular for a free-text
  admonition, so ``>>>`` lines would become Markdown prose (``x[1][:3]`` even becomes a broken
  link). The singular header is rewritten to the plural before parsing.
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


class ExampleSections(Extension):
    """Treat ``Example:`` like ``Examples:``; leave ``# NOTE [ ... ]`` blocks out."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        docstring = getattr(obj, "docstring", None)
        if docstring is None:
            return
        value = docstring.value
        if "# NOTE [" in value:
            value = _drop_note_blocks(value)
        if "Example:" in value:
            value = _HEADER.sub(r"\g<indent>Examples:", value)
        docstring.value = value
