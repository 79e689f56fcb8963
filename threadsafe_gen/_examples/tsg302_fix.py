"""The fix of tsg302.py: clean of TSG302."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return (self.data[i],)
