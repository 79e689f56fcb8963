"""Triggers TSG701 (serialised-getitem): worker threads run one at a time."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import read_from_disk

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threading


class Rows:
    def __init__(self):
        self.lock = threading.Lock()

    def __len__(self):
        return 100

    def __getitem__(self, i):
        with self.lock:  # 4 worker threads take turns
            return (read_from_disk(i),)
