"""The fix of tsg301.py and tsg401.py: clean of TSG301, TSG401."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data) // 8

    def __getitem__(self, i):
        return (self.data[i * 8 : (i + 1) * 8],)
