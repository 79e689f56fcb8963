"""The fix of tsg353.py: clean of TSG353."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras


class Loader(keras.utils.PyDataset):
    def __getitem__(self, idx):
        return self.x[idx * 8 : (idx + 1) * 8]
