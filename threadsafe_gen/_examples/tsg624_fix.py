"""The fix of tsg624.py: clean of TSG624."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __len__(self):
        return 10

    def __getitem__(self, i):
        x, y = load(i)
        return x, y  # one label per input
