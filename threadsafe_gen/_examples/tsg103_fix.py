"""The fix of tsg103.py: clean of TSG103."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np


class Images:
    def __init__(self, path):
        self.path = path  # a .npy file; workers map it instead of receiving a copy

    def __len__(self):
        return len(np.load(self.path, mmap_mode="r")) // 32

    def __getitem__(self, i):
        x = np.load(self.path, mmap_mode="r")
        return (np.array(x[i * 32 : (i + 1) * 32]),)
