"""Triggers TSG822 (loader-raised): the loader raised an exception."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import decode


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return (decode(self.paths[i]),)  # raises on a corrupt file
