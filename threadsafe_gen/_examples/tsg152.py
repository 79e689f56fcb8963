"""Triggers TSG152 (lambda-to-spawned-workers): a lambda or local function is given to DataLoader workers."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
from torch.utils.data import DataLoader

loader = DataLoader(
    list(range(100)),
    batch_size=10,
    num_workers=2,
    multiprocessing_context="spawn",
    collate_fn=lambda batch: sum(batch),  # PicklingError when the workers start
)
