"""The fix of tsg751.py: clean of TSG751."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import open_reader

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras

import threadsafe_gen


class Loader(keras.utils.PyDataset):
    reader = threadsafe_gen.per_thread(open_reader)  # one reader per worker

    def __getitem__(self, idx):
        return self.reader.load(self.files[idx])
