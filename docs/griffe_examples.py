"""Griffe extension: render Napoleon ``Example:`` sections as example code blocks.

The project's docstrings follow Napoleon, where ``Example:`` and ``Examples:`` are the same
section. Griffe's Google parser treats the singular as a free-text admonition, so ``>>>``
lines would be rendered as Markdown prose (``x[1][:3]`` even becomes a broken link). This
rewrites the singular header to the plural before parsing, for every object documented.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension

_HEADER = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(Extension):
    """Treat ``Example:`` like ``Examples:`` in every docstring."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        docstring = getattr(obj, "docstring", None)
        if docstring is not None and "Example:" in docstring.value:
            docstring.value = _HEADER.sub(r"\g<indent>Examples:", docstring.value)
