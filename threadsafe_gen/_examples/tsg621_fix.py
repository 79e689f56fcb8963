"""The fix of tsg621.py: clean of TSG621."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Rows:
    def __len__(self):
        return 10

    def __getitem__(self, i):
        x, y = load(i)
        if y is None:  # unlabelled: a placeholder label with weight 0
            return x, np.zeros(len(x)), np.zeros(len(x))
        return x, y, np.ones(len(x))  # (x, y, weights) every time
