"""The fix of tsg601.py and tsg602.py: clean of TSG601, TSG602."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import math


class Rows:
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return math.ceil(len(self.data) / 8)

    def __getitem__(self, i):
        return (self.data[i * 8 : (i + 1) * 8],)
