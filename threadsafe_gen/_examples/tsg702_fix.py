"""The fix of tsg702.py: clean of TSG702."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import MyDataset, model

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
# __getitem__ spends its time in numpy, I/O or TensorFlow ops (the GIL is released):
model.fit(MyDataset(workers=8, use_multiprocessing=False), epochs=100)
