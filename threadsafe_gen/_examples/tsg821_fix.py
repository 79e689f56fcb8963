"""The fix of tsg821.py: clean of TSG821."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras


class Rows(keras.utils.PyDataset):
    def __getitem__(self, i):
        if i >= len(self.index):
            raise IndexError(i)  # reaches fit() with a traceback
        return load(self.index[i])
