"""The fix of tsg451.py: clean of TSG451."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load_batches, model

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
from threadsafe_gen.keras import GeneratorDataset


def batches():  # a generator function, re-created per worker and epoch
    yield from load_batches()


model.fit(GeneratorDataset(batches, workers=4), epochs=3)
