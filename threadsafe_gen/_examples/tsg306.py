"""Triggers TSG306 (unsafe-iterator): an iterator without a lock is used with worker threads."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
def batches():
    for i in range(100):
        yield load(i)


it = batches()  # shared by 4 worker threads: ValueError: generator already executing
