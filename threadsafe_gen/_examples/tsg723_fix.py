"""The fix of tsg723.py: clean of TSG723."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import numpy as np
from torch.utils.data import DataLoader, Dataset


class Files(Dataset):
    def __init__(self, n):
        # One numpy array of fixed-width strings: no Python object per path.
        self.paths = np.array([f"img_{i:08d}.jpg" for i in range(n)])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return len(str(self.paths[i]))


loader = DataLoader(Files(2_000_000), batch_size=4096, num_workers=2)
