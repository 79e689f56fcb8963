"""The fix of tsg352.py: clean of TSG352."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras


class Loader(keras.utils.PyDataset):
    def __getitem__(self, idx):
        batch = self.x[idx]  # a local variable
        return batch
