"""Triggers TSG602 (empty-batch): a batch is empty."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data) // 8 + 1  # the last slice is empty when 8 divides len(data)

    def __getitem__(self, i):
        return (self.data[i * 8 : (i + 1) * 8],)
