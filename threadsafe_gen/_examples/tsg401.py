"""Triggers TSG401 (duplicate-samples): identical samples within an epoch."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data) // 8

    def __getitem__(self, i):
        start = (i * 8) % 32  # wraps after 4 batches: samples repeat, others are never used
        return (self.data[start : start + 8],)
