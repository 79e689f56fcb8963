"""Triggers TSG203 (fails-in-forked-worker): the loader works in the parent but fails in a forked worker."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3

import keras


class Rows(keras.utils.PyDataset):
    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.path, self.conn = path, None

    def __len__(self):
        return 8  # batches in table t

    def __getitem__(self, i):
        if self.conn is None:  # opened by Keras' first calls, in the parent...
            self.conn = sqlite3.connect(self.path)  # ...then inherited by forked workers
        return self.conn.execute("SELECT x FROM t WHERE batch = ?", (i,)).fetchall()
