"""Triggers TSG353 (getitem-ignores-index): __getitem__ ignores its index argument."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras


class Loader(keras.utils.PyDataset):
    def __getitem__(self, idx):
        batch = self.x[self.cursor : self.cursor + 8]  # idx is never read
        self.cursor += 8
        return batch
