"""The fix of tsg251.py: clean of TSG251."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3

import keras

import threadsafe_gen


class Rows(keras.utils.PyDataset):
    # One connection per worker thread, opened on first use, never pickled.
    conn = threadsafe_gen.per_thread(lambda self: sqlite3.connect(self.path))

    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.path = path
