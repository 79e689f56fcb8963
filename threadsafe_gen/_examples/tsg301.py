"""Triggers TSG301 (results-differ-under-threads): results differ when workers run concurrently."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, data):
        self.data = data
        self.cursor = 0

    def __len__(self):
        return len(self.data) // 8

    def __getitem__(self, i):
        start = self.cursor  # ignores i: workers read the same cursor
        self.cursor += 8
        return (self.data[start : start + 8],)
