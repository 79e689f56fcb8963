"""Triggers TSG503 (rng-on-loader): an RNG object is stored on the loader."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras
import numpy as np


class Augmented(keras.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rng = np.random.default_rng(0)  # copied, with its state, into every worker

    def __len__(self):
        return 100

    def __getitem__(self, i):
        x, y = load(i)
        return x + self.rng.normal(size=x.shape), y
