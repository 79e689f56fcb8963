"""The fix of tsg652.py: clean of TSG652."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import Loader, model, x, y

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
model.fit(Loader(x, y, batch_size=32), epochs=3)  # a keras.utils.PyDataset
