"""The fix of tsg101.py: clean of TSG101."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threadsafe_gen as tsg


class Rows:
    def __init__(self, data):
        self.data = data
        self.lock = tsg.Lock()  # pickles to a fresh lock in each worker

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        with self.lock:
            return self.data[i]
