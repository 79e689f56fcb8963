"""Triggers TSG103 (large-pickled-payload): the pickled loader is large and is copied into every worker."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Images:
    def __init__(self):
        self.x = np.zeros((20_000, 64, 64, 3), np.float32)  # 983 MB pickled per worker per epoch

    def __len__(self):
        return len(self.x) // 32

    def __getitem__(self, i):
        return (self.x[i * 32 : (i + 1) * 32],)
