"""The fix of tsg104.py: clean of TSG104."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Rows:
    def __init__(self, n):
        self.n = n
        self.table = {i: np.full((4, 2), i) for i in range(n)}

    def __getstate__(self):
        return {"n": self.n}

    def __setstate__(self, state):
        Rows.__init__(self, state["n"])  # rebuilt identically in each worker

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.table[i]
