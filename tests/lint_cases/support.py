"""Helpers shared by the lint tests (tests/test_lint_*.py): snippets and the fixture tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

from threadsafe_gen import REGISTRY
from threadsafe_gen._lint import lint_source

#: This folder: fixture files linted by the tests (pkg/, train_script.py, ...).
CASES = Path(__file__).parent
LINT_CODES = sorted(c.code for c in REGISTRY.values() if c.kind == "lint")


def codes(src: str, **kwargs: object) -> list[str]:
    """Sorted codes found in a dedented snippet."""
    result = lint_source(textwrap.dedent(src), "snippet.py", **kwargs)  # type: ignore[arg-type]
    return sorted(f.code for f in result.findings)


LOADER = """
import threading, sqlite3, socket
import numpy as np
from keras.utils import Sequence as S

def stream():
    yield 1

class Loader(S):
    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.value = {value}
    def __len__(self):
        return 2
    def __getitem__(self, idx):
        return idx
"""


GETITEM = """
import keras
class Loader(keras.utils.PyDataset):
    def __len__(self):
        return 4
    def __getitem__(self, idx):
{body}
"""


def getitem(body: str) -> str:
    """A PyDataset whose __getitem__ has *body*."""
    return GETITEM.format(body=textwrap.indent(textwrap.dedent(body), " " * 8))
