"""Triggers TSG152 (lambda-to-spawned-workers): a lambda or local function is given to DataLoader workers."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import torch
from torch.utils.data import DataLoader, TensorDataset

loader = DataLoader(
    TensorDataset(torch.arange(100)),
    batch_size=10,
    num_workers=2,
    multiprocessing_context="spawn",
    collate_fn=lambda batch: torch.stack([x for (x,) in batch]),  # PicklingError in the workers
)
