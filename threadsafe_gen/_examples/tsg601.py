"""Triggers TSG601 (len-mismatch): __len__ disagrees with what __getitem__ serves."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
class Rows:
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data) // 8 + 1  # one too many when 8 divides len(data)

    def __getitem__(self, i):
        if i * 8 >= len(self.data):
            raise IndexError(i)
        return (self.data[i * 8 : (i + 1) * 8],)
