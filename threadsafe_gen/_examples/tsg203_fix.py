"""The fix of tsg203.py: clean of TSG203."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3

import keras

import threadsafe_gen


def _connect(owner):
    return sqlite3.connect(owner.path, check_same_thread=False, cached_statements=0)


class Rows(keras.utils.PyDataset):
    conn = threadsafe_gen.per_process(_connect)  # keyed by pid: reopened in each worker

    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.path = path

    def __len__(self):
        return 8  # batches in table t

    def __getitem__(self, i):
        return self.conn.execute("SELECT x FROM t WHERE batch = ?", (i,)).fetchall()
