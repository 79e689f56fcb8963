"""The fix of tsg651.py: clean of TSG651."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras


class Loader(keras.utils.PyDataset):
    def __init__(self, x, **kwargs):
        super().__init__(**kwargs)
        self.x = x
