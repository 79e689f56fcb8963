"""The fix of tsg822.py: clean of TSG822."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import decode, is_valid


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, paths):
        self.paths = [p for p in paths if is_valid(p)]  # filtered once, up front

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return (decode(self.paths[i]),)
