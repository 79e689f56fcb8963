"""The fix of tsg722.py: clean of TSG722."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import make_client

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threadsafe_gen as tsg


class Rows:
    client = tsg.per_process(make_client)  # one client per worker process

    def __len__(self):
        return 100

    def __getitem__(self, i):
        return (self.client.fetch(i),)
