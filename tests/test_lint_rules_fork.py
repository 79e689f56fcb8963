"""Fork-safety rule (threadsafe_gen/_lint/rules/fork.py): TSG251."""

from __future__ import annotations

import pytest
from lint_cases.support import LOADER, codes


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
