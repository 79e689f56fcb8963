"""The fix of tsg102.py: clean of TSG102."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:  # module level: importable by name in every worker
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i]
