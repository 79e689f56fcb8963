"""Triggers TSG603 (finite-generator-epochs): a finite generator will not restart between epochs."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load, model


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
def batches():
    for i in range(8):
        yield load(i)


model.fit(batches(), epochs=3)  # epochs 2 and 3 replay only the 2 peeked batches
