"""The fix of tsg306.py: clean of TSG306."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threadsafe_gen as tsg


@tsg.threadsafe_generator
def batches():
    for i in range(100):
        yield load(i)


it = batches()  # next() is serialised by a lock
