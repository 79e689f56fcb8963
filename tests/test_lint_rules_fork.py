"""Fork-safety rule (threadsafe_gen/_lint/rules/fork.py): TSG251."""

from __future__ import annotations

import textwrap

import pytest
from lint_cases.support import LOADER, codes

from threadsafe_gen._lint import lint_source


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sqlite3.connect(path)", ["TSG251"]),
        ("open(path)", ["TSG251"]),
        ("socket.socket()", ["TSG251"]),
    ],
)
def test_init_stores_handle(value: str, expected: list[str]) -> None:
    """Connections, files and sockets stored in __init__ give TSG251 (TSG151's cases and
    plain data: tests/test_lint_rules_pickling.py)."""
    assert codes(LOADER.format(value=value)) == expected


def test_duck_typed_loader_is_checked() -> None:
    """Any class with __getitem__ and __len__ counts as a loader."""
    src = """
    import sqlite3
    class Rows:
        def __init__(self, path):
            self.conn = sqlite3.connect(path)
        def __len__(self):
            return 3
        def __getitem__(self, i):
            return self.conn.execute("select ?", (i,)).fetchone()
    """
    assert codes(src) == ["TSG251"]


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        # issue 10 item 14: the file reached through a local, datasets stored: one finding
        ('f = h5py.File(path, "r")\nself.images = f["images"]\nself.labels = f["labels"]', 1),
        ('f = h5py.File(path, "r")\nself.f = f', 1),
        ('f = h5py.File(path, "r")\nself.x = f.get("grp")["x"]', 1),
        ("conn = sqlite3.connect(path)\nself.cur = conn.cursor()", 1),
        # data read out of the file, or a file closed before __init__ returns: fine
        ('f = h5py.File(path, "r")\nself.x = f["x"][:]\nself.n = f["x"].shape[0]', 0),
        ('f = h5py.File(path, "r")\nself.x = f["x"]\nf.close()', 0),
        ('with h5py.File(path, "r") as f:\n    self.n = len(f["x"])', 0),
        # handles in a collection
        ("self.files = [h5py.File(p) for p in path]", 1),
        ("self.dbs = {k: sqlite3.connect(k) for k in path}", 1),
    ],
)
def test_handle_reached_through_a_local_or_held_in_a_collection(init: str, expected: int) -> None:
    """A handle opened into a local and stored in parts, or a collection of handles, is
    TSG251 too."""
    src = f"""
import h5py, sqlite3
class Rows:
    def __init__(self, path):
{textwrap.indent(init, " " * 8)}
    def __len__(self):
        return 3
    def __getitem__(self, i):
        return i
"""
    assert codes(src) == ["TSG251"] * expected


def test_parts_of_one_local_handle_are_one_finding() -> None:
    """Both datasets of one file: one finding naming both attributes."""
    src = """
import h5py
class Rows:
    def __init__(self, path):
        f = h5py.File(path, "r")
        self.images = f["images"]
        self.labels = f["labels"]
    def __len__(self):
        return 3
    def __getitem__(self, i):
        return self.images[i], self.labels[i]
"""
    (finding,) = lint_source(src).findings
    assert finding.message.startswith(
        "Rows.__init__ stores an open HDF5 file (h5py.File, opened as the local `f`) or parts "
        "of it on self.images and self.labels: forked workers share one descriptor"
    )
