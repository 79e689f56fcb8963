"""The fix of tsg623.py: clean of TSG623."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load_images, resize

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Rows:
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return (np.stack([resize(im, (64, 64)) for im in load_images(i)]),)
