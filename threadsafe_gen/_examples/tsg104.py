"""Triggers TSG104 (fails-after-unpickling): the loader pickles, but fails or changes in a spawned worker."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Rows:
    def __init__(self, n):
        self.n = n
        self.table = {i: np.full((4, 2), i) for i in range(n)}

    def __getstate__(self):
        return {"n": self.n}  # the table is dropped: spawned workers raise AttributeError

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.table[i]
