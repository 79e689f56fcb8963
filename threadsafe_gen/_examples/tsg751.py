"""Triggers TSG751 (lock-around-getitem): a lock is held around the whole __getitem__."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras

import threadsafe_gen


class Loader(keras.utils.PyDataset):
    lock = threadsafe_gen.Lock()

    def __getitem__(self, idx):
        with self.lock:  # one worker at a time
            return load(self.files[idx])
