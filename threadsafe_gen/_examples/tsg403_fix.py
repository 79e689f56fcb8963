"""The fix of tsg403.py: clean of TSG403."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threadsafe_gen as tsg


def batches():
    # shard() keeps this host's part (and, inside workers, this worker's part of it)
    for i in tsg.shard(range(64)):
        yield load(i)


# in a test: simulate 2 hosts
# check_loader(batches, hosts=2)
