"""Triggers TSG403 (not-split-across-hosts): every host of a multi-machine run reads the same items."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
def batches():
    # every host runs this generator: each of them loads all 64 files
    for i in range(64):
        yield load(i)


# in a test: simulate 2 hosts
# check_loader(batches, hosts=2)
