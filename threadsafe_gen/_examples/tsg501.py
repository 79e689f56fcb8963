"""Triggers TSG501 (same-random-across-workers) and TSG502 (same-random-across-epochs): forked workers produce the same 'random' output."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras
import numpy as np


class Augmented(keras.utils.PyDataset):
    def __len__(self):
        return 100

    def __getitem__(self, i):
        x, y = load(i)
        return x + np.random.normal(size=x.shape), y  # same noise in every forked worker
