"""The fix of tsg201.py: clean of TSG201."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3

import keras

import threadsafe_gen


def _connect(owner):
    return sqlite3.connect(owner.path, check_same_thread=False, cached_statements=0)


class Rows(keras.utils.PyDataset):
    conn = threadsafe_gen.per_process(_connect)  # one connection per worker process

    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.path = path
