"""The fix of tsg603.py: clean of TSG603."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load, model

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threadsafe_gen as tsg
from threadsafe_gen.keras import GeneratorDataset


@tsg.threadsafe_generator
def batches():
    for i in range(8):
        yield load(i)


model.fit(GeneratorDataset(batches()), epochs=3)  # re-created every epoch
