"""Triggers TSG623 (shape-changes): batch rank or feature shape changes between batches."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load_images

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Rows:
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return (np.stack(load_images(i)),)  # images of different sizes per batch
