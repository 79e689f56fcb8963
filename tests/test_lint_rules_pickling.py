"""Pickling rule (threadsafe_gen/_lint/rules/pickling.py): TSG151."""

from __future__ import annotations

import pytest
from lint_cases.support import LOADER, codes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("threading.Lock()", ["TSG151"]),
        ("threading.RLock()", ["TSG151"]),
        ("threading.local()", ["TSG151"]),
        ("lambda x: x", ["TSG151"]),
        ("(i for i in range(3))", ["TSG151"]),
        ("stream()", ["TSG151"]),
        ("[1, 2, 3]", []),
        ("np.zeros(3)", []),
        ("path", []),
    ],
)
def test_init_stores_unpicklable(value: str, expected: list[str]) -> None:
    """Locks, lambdas and generators give TSG151; data nothing (connections, files and
    sockets, TSG251: tests/test_lint_rules_fork.py)."""
    assert codes(LOADER.format(value=value)) == expected


def test_our_picklable_lock_is_not_tsg151() -> None:
    """threadsafe_gen.Lock() pickles, so storing it is fine."""
    src = LOADER.replace("import threading,", "import threadsafe_gen, threading,")
    assert codes(src.format(value="threadsafe_gen.Lock()")) == []


def test_multiprocessing_lock_is_not_tsg151() -> None:
    """multiprocessing.Lock is passed to workers by inheritance, so it is not TSG151."""
    src = LOADER.replace("import threading,", "import multiprocessing, threading,")
    assert codes(src.format(value="multiprocessing.Lock()")) == []


def test_non_loader_may_hold_a_lock() -> None:
    """A plain class (no loader base, no __getitem__/__len__) may store a lock."""
    src = """
    import threading
    class Cache:
        def __init__(self):
            self.lock = threading.Lock()
    """
    assert codes(src) == []


def test_custom_pickling_exempts_tsg151() -> None:
    """A class with __getstate__/__reduce__ may hold a lock: it controls what is pickled."""
    src = LOADER.format(value="threading.Lock()").replace(
        "    def __len__(self):",
        "    def __getstate__(self):\n        return {}\n    def __len__(self):",
    )
    assert codes(src) == []
