"""The fix of tsg402.py: clean of TSG402."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import batches, model

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threadsafe_gen.keras

# one source shared by 4 worker threads: every batch arrives once
ds = threadsafe_gen.keras.GeneratorDataset(batches, workers=4, batches=100, truncate=True)
model.fit(ds, epochs=10)
