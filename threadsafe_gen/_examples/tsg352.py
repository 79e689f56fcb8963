"""Triggers TSG352 (getitem-assigns-self): __getitem__ assigns to self."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras


class Loader(keras.utils.PyDataset):
    def __getitem__(self, idx):
        self.last = self.x[idx]  # shared by all worker threads
        return self.last
