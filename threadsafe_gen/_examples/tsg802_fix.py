"""The fix of tsg802.py: clean of TSG802."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import big_loader

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threadsafe_gen as tsg

report = tsg.check_loader(big_loader, timeout=120, max_batches=16)
