"""Triggers TSG402 (generator-copied-per-process): a generator would be copied into every worker process."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import model, next_batch


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
def batches():
    while True:
        yield next_batch()


# tf_keras: each of the 4 processes runs its own copy of batches()
model.fit(batches(), steps_per_epoch=100, workers=4, use_multiprocessing=True)
