"""Triggers TSG702 (pool-start-cost): worker processes are expensive to start every epoch."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import MyDataset, model

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
# spawn (macOS, Windows) or forkserver (Linux, Python >= 3.14): 8 workers start,
# import TensorFlow and unpickle the loader again in every epoch
model.fit(MyDataset(workers=8, use_multiprocessing=True), epochs=100)
