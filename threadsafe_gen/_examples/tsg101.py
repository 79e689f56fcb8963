"""Triggers TSG101 (unpicklable-member): a member of the loader cannot be pickled."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threading


class Rows:
    def __init__(self, data):
        self.data = data
        self.lock = threading.Lock()  # spawn workers: cannot pickle '_thread.lock' object

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        with self.lock:
            return self.data[i]
