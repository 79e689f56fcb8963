"""The fix of tsg551.py: clean of TSG551."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras

import threadsafe_gen


class Augment(keras.utils.PyDataset):
    def __getitem__(self, idx):
        rng = threadsafe_gen.rng_for(idx, epoch=self.epoch)
        return self.x[idx] + rng.normal(size=(8, 4))
