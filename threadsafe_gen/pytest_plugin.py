"""pytest plugin (registered through the ``pytest11`` entry point).

Kept import-light: pytest loads it in every session of a project that installs
threadsafe_gen, so it imports neither TensorFlow nor Hypothesis; ``check_loader`` itself is
imported only when a test calls it.

It provides the ``loader_check`` fixture, which returns
:func:`threadsafe_gen.assert_loader_safe`, so a test is one line::

    def test_loader_is_safe(loader_check):
        loader_check(MyLoader(x, y), workers=4)

``assert_loader_safe`` can also be imported directly (``from threadsafe_gen import
assert_loader_safe``); the fixture only saves the import and documents the intent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ._assertions import assert_loader_safe

__all__ = ["loader_check"]


@pytest.fixture
def loader_check() -> Callable[..., Any]:
    """Return :func:`threadsafe_gen.assert_loader_safe` (fails with the readable report)."""
    return assert_loader_safe
