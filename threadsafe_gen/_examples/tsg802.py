"""Triggers TSG802 (check-budget-exhausted): the check ran out of time before all probes ran."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import big_loader

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threadsafe_gen as tsg

report = tsg.check_loader(big_loader, timeout=5)  # too short for 64 slow batches
