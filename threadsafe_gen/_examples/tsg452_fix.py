"""The fix of tsg452.py: clean of TSG452."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import torch.utils.data as tud

import threadsafe_gen


class Lines(tud.IterableDataset):
    def __init__(self, path):
        self.path = path

    def __iter__(self):
        with open(self.path) as f:
            yield from threadsafe_gen.shard(f)  # worker k of 4: lines k, k + 4, ...


loader = tud.DataLoader(Lines("data.txt"), batch_size=32, num_workers=4)
