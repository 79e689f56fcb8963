"""The fix of tsg204.py: clean of TSG204."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import MyDataset, model

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import multiprocessing

multiprocessing.set_start_method("forkserver")  # or: use_multiprocessing=False (threads)
model.fit(MyDataset(workers=4, use_multiprocessing=True))
