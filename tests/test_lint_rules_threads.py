"""Thread-safety rules (threadsafe_gen/_lint/rules/threads.py): TSG351, TSG352, TSG353."""

from __future__ import annotations

import pytest
from lint_cases.support import codes, getitem

RECIPE = """
import threading
class threadsafe_iter:
    def __init__(self, it):
        self.it = it
        self.lock = threading.Lock()
    def __iter__(self):
        return self
    def __next__(self):
        {body}
    def next(self):
        with self.lock:
            return next(self.it)
"""


def test_next_without_lock_is_reported() -> None:
    """The popular recipe with the `with self.lock:` forgotten gives TSG351."""
    assert codes(RECIPE.format(body="return next(self.it)")) == ["TSG351"]


def test_next_with_lock_is_clean() -> None:
    """__next__ under `with self.lock:` is fine."""
    src = RECIPE.format(body="with self.lock:\n            return next(self.it)")
    assert codes(src) == []


def test_next_delegating_to_locked_method_is_clean() -> None:
    """The Python 2 recipe, `__next__` calling `self.next()` which holds the lock, is fine."""
    assert codes(RECIPE.format(body="return self.next()")) == []


def test_next_with_acquire_is_clean() -> None:
    """acquire()/release() counts as holding the lock."""
    body = "self.lock.acquire()\n        try:\n            return next(self.it)\n        finally:\n            self.lock.release()"
    assert codes(RECIPE.format(body=body)) == []


def test_iterator_without_lock_is_not_tsg351() -> None:
    """An iterator that owns no lock is not the recipe: no TSG351."""
    src = """
    class Count:
        def __init__(self):
            self.i = 0
        def __next__(self):
            self.i += 1
            return self.i
    """
    assert codes(src) == []


@pytest.mark.parametrize("attr", ["block_size", "clock", "blocked"])
def test_attribute_with_lock_inside_a_word_is_not_a_lock(attr: str) -> None:
    """`self.block_size` or `self.clock` is not a lock: an iterator using it is not TSG351."""
    src = f"""
    class Chunks:
        def __init__(self, data):
            self.data = data
            self.{attr} = 4
        def __next__(self):
            chunk, self.data = self.data[: self.{attr}], self.data[self.{attr} :]
            return chunk
    """
    assert codes(src) == []


@pytest.mark.parametrize("attr", ["_lock", "read_lock", "mutex", "_locks"])
def test_attribute_named_as_a_lock_counts_as_one(attr: str) -> None:
    """A lock made elsewhere but named like one (`self._lock = make()`) is the recipe's lock."""
    src = f"""
    class It:
        def __init__(self, it, make):
            self.it = it
            self.{attr} = make()
        def __next__(self):
            return next(self.it)
    """
    assert codes(src) == ["TSG351"]


def test_getitem_assigning_self_is_reported() -> None:
    """`self.x = ...` and `self.x += ...` inside __getitem__ give TSG352 each."""
    body = """
    self.last = idx
    self.count += 1
    return idx
    """
    assert codes(getitem(body)) == ["TSG352", "TSG352"]


def test_getitem_with_locals_is_clean() -> None:
    """Local variables and reading self are fine."""
    assert codes(getitem("batch = self.x[idx]\nreturn batch")) == []


def test_getitem_ignoring_index_is_reported() -> None:
    """A __getitem__ that never reads its index gives TSG353."""
    assert codes(getitem("return self.x[0]")) == ["TSG353"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return np.zeros((4, 3)), np.ones((4, 1))", []),  # a constant batch: pure
        ("yield np.ones((2, 11))", []),
        ("return np.random.rand(4, 3), np.zeros(4)", ["TSG551"]),  # random, but no state
        ("return next(self.it)", ["TSG353"]),  # a cursor
    ],
)
def test_getitem_ignoring_index_is_tsg353_only_when_it_reads_state(
    body: str, expected: list[str]
) -> None:
    """Ignoring the index loses track of the data only when the batch comes from state."""
    assert codes("import numpy as np\n" + getitem(body)) == expected


def test_getitem_reading_index_in_nested_function_is_clean() -> None:
    """Reading the index inside a nested lambda counts as reading it."""
    assert codes(getitem("f = lambda: self.x[idx]\nreturn f()")) == []


def test_abstract_getitem_is_not_reported() -> None:
    """`raise NotImplementedError` is an abstract method, not a bug."""
    assert codes(getitem("raise NotImplementedError")) == []


def test_reused_buffer_returned_from_getitem() -> None:
    """Filling self.buf in place and returning it gives TSG352; a cache that is not returned does not."""
    assert codes(getitem("self.buf[:] = idx\nreturn self.buf, self.buf[:, 1]")) == ["TSG352"]
    assert codes(getitem("self.cache[idx] = idx\nreturn idx")) == []


@pytest.mark.parametrize(
    "body",
    [
        "raise TypeError('not subscriptable')",
        "return self",
        "return 1",
    ],
)
def test_getitem_that_serves_nothing_is_not_tsg353(body: str) -> None:
    """A __getitem__ that only raises or returns a constant/self is not a loader losing its index."""
    assert codes(getitem(body)) == []


def test_underscore_index_is_deliberately_unused() -> None:
    """An index argument named `_...` is ignored on purpose: no TSG353."""
    assert codes(getitem("return self.x[0]").replace("(self, idx)", "(self, _idx)")) == []
