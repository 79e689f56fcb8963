"""Triggers TSG351 (next-without-lock): an iterator's __next__ does not hold the lock it owns."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threading


class threadsafe_iter:
    def __init__(self, it):
        self.it = it
        self.lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self.it)  # the lock is never taken
