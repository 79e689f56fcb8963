"""The fix of tsg303.py: clean of TSG303."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        batch = self.data[i]
        return (batch,)
