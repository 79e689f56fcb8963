"""The fix of tsg151.py: clean of TSG151."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras

import threadsafe_gen


class Loader(keras.utils.PyDataset):
    def __init__(self, x, **kwargs):
        super().__init__(**kwargs)
        self.x = x
        self.lock = threadsafe_gen.Lock()  # pickles; re-created in each worker
