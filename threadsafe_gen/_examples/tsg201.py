"""Triggers TSG201 (shared-os-handle): a connection, socket or open file would be shared with forked workers."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3

import keras


class Rows(keras.utils.PyDataset):
    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.conn = sqlite3.connect(path)  # inherited by every forked worker
