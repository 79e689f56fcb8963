"""Triggers TSG723 (copy-on-read-growth): forked workers copy a dataset held as many Python objects."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
from torch.utils.data import DataLoader, Dataset


class Files(Dataset):
    def __init__(self, n):
        self.paths = [f"img_{i:08d}.jpg" for i in range(n)]  # 2 million str objects

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return len(self.paths[i])  # reading an item copies its page into the worker


loader = DataLoader(Files(2_000_000), batch_size=4096, num_workers=2)
