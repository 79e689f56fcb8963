"""The fix of tsg701.py: clean of TSG701."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import read_from_disk


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __len__(self):
        return 100

    def __getitem__(self, i):
        return (read_from_disk(i),)  # lock-free: threads overlap the I/O
