"""The fix of tsg152.py: clean of TSG152."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import torch
from torch.utils.data import DataLoader, TensorDataset


def stack(batch):  # module level: spawned workers import it by name
    return torch.stack([x for (x,) in batch])


loader = DataLoader(
    TensorDataset(torch.arange(100)),
    batch_size=10,
    num_workers=2,
    multiprocessing_context="spawn",
    collate_fn=stack,
)
