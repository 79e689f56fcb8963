"""The fix of tsg304.py: clean of TSG304."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Rows:
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data) // 8

    def __getitem__(self, i):
        return (np.array(self.data[i * 8 : (i + 1) * 8]),)  # a fresh array per call
