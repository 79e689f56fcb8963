"""The fix of tsg501.py and tsg503.py: clean of TSG501, TSG502, TSG503."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras

import threadsafe_gen


class Augmented(keras.utils.PyDataset):
    epoch = 0

    def on_epoch_end(self):
        self.epoch += 1  # Keras starts the next epoch's workers after this

    def __len__(self):
        return 100

    def __getitem__(self, i):
        x, y = load(i)
        rng = threadsafe_gen.rng_for(i, epoch=self.epoch)  # the same in every worker
        return x + rng.normal(size=x.shape), y
