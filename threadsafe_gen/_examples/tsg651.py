"""Triggers TSG651 (pydataset-no-super-init): pyDataset subclass does not call super().__init__(**kwargs)."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras


class Loader(keras.utils.PyDataset):
    def __init__(self, x):
        self.x = x  # workers=... is now ignored
