"""Triggers TSG721 (fd-growth): open file descriptors grow with every batch."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import sqlite3


class Rows:
    def __init__(self):
        self.conns = []

    def __len__(self):
        return 100

    def __getitem__(self, i):
        conn = sqlite3.connect("data.db", check_same_thread=False)
        self.conns.append(conn)  # one more open file per batch
        return (conn.execute("select x from t where id = ?", (i,)).fetchall(),)
