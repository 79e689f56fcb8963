"""The fix of tsg721.py: clean of TSG721."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3

import threadsafe_gen as tsg


def _connect():
    return sqlite3.connect("data.db")


class Rows:
    db = tsg.per_thread(_connect, close=sqlite3.Connection.close)

    def __len__(self):
        return 100

    def __getitem__(self, i):
        return (self.db.execute("select x from t where id = ?", (i,)).fetchall(),)
