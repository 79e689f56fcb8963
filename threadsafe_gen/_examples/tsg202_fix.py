"""The fix of tsg202.py: clean of TSG202."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threading
import time

import keras

import threadsafe_gen


class Cached(keras.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lock = threadsafe_gen.Lock()  # re-created, unheld, in a forked worker
        threading.Thread(target=self.refresh, daemon=True).start()

    def refresh(self):
        while True:
            with self.lock:
                time.sleep(0.05)
