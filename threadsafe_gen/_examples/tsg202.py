"""Triggers TSG202 (lock-or-threads-at-fork): locks or live threads when workers fork."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threading
import time

import keras


class Cached(keras.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        threading.Thread(target=self.refresh, daemon=True).start()

    def refresh(self):
        while True:
            with self.lock:  # a worker forked right now waits for this lock forever
                time.sleep(0.05)
