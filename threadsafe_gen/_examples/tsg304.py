"""Triggers TSG304 (results-share-memory): batches share memory with each other."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Rows:
    def __init__(self, data):
        self.data = data
        self.buf = np.empty((8, *data.shape[1:]), data.dtype)

    def __len__(self):
        return len(self.data) // 8

    def __getitem__(self, i):
        self.buf[:] = self.data[i * 8 : (i + 1) * 8]
        return (self.buf,)  # the next call overwrites this batch
