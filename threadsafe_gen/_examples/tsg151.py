"""Triggers TSG151 (unpicklable-attribute-in-init): a lock, generator or lambda is stored on self."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threading

import keras


class Loader(keras.utils.PyDataset):
    def __init__(self, x, **kwargs):
        super().__init__(**kwargs)
        self.x = x
        self.lock = threading.Lock()  # cannot be pickled
