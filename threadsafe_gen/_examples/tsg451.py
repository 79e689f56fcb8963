"""Triggers TSG451 (generator-to-fit-with-workers): a generator is passed to fit() with workers>1 or processes."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import model, next_batch


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
def batches():
    while True:
        yield next_batch()


model.fit(batches(), steps_per_epoch=100, workers=4, use_multiprocessing=True)
