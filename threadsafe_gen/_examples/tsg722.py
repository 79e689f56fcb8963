"""Triggers TSG722 (thread-growth): threads grow with every batch."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import make_client


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __len__(self):
        return 100

    def __getitem__(self, i):
        client = make_client()  # each client starts a background thread, never closed
        return (client.fetch(i),)
