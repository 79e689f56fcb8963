"""The fix of tsg305.py: clean of TSG305."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3

import threadsafe_gen as tsg


def _connect():
    return sqlite3.connect("data.db")


class Rows:
    db = tsg.per_thread(_connect, close=sqlite3.Connection.close)  # one per worker thread

    def __len__(self):
        return self.db.execute("select count(*) from t").fetchone()[0]

    def __getitem__(self, i):
        return (self.db.execute("select x from t where id = ?", (i,)).fetchall(),)
