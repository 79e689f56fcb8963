"""Triggers TSG305 (thread-bound-resource): the loader fails when called from another thread."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3


class Rows:
    def __init__(self, path):
        self.db = sqlite3.connect(path)  # usable only on the thread that made it

    def __len__(self):
        return self.db.execute("select count(*) from t").fetchone()[0]

    def __getitem__(self, i):
        return (self.db.execute("select x from t where id = ?", (i,)).fetchall(),)
