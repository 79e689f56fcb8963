"""The fix of tsg152.py: clean of TSG152."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
from torch.utils.data import DataLoader


def add_up(batch):  # module level: spawned workers import it by name
    return sum(batch)


loader = DataLoader(
    list(range(100)),
    batch_size=10,
    num_workers=2,
    multiprocessing_context="spawn",
    collate_fn=add_up,
)
