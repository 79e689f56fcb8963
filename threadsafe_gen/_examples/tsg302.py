"""Triggers TSG302 (error-only-under-threads): an exception occurs only under concurrency."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, data):
        self.data = data
        self.rows = iter(data)  # shared by worker threads

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return (next(self.rows),)  # ValueError: generator already executing, or a race
