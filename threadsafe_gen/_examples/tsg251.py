"""Triggers TSG251 (handle-attribute-in-init): a connection, socket or open file is stored on self."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3

import keras


class Rows(keras.utils.PyDataset):
    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.conn = sqlite3.connect(path)  # shared by forked workers
