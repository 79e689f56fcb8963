"""Triggers TSG303 (getitem-mutates-loader): __getitem__ changes the loader's attributes."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, data):
        self.data = data
        self.last = None

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        self.last = self.data[i]  # state shared by threads, lost by processes
        return (self.last,)
