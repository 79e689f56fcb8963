"""The fix of tsg622.py: clean of TSG622."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Rows:
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return (np.asarray(load(i), dtype=np.float32),)
