"""Triggers TSG452 (iterable-dataset-not-sharded): an IterableDataset's __iter__ ignores which worker runs it."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import torch.utils.data as tud


class Lines(tud.IterableDataset):
    def __init__(self, path):
        self.path = path

    def __iter__(self):
        with open(self.path) as f:
            yield from f  # every worker reads the whole file


loader = tud.DataLoader(Lines("data.txt"), batch_size=32, num_workers=4)
