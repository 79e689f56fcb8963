"""Performance rule (threadsafe_gen/_lint/rules/performance.py): TSG751."""

from __future__ import annotations

from lint_cases.support import codes, getitem


def test_lock_around_whole_getitem_is_reported() -> None:
    """`with self.lock:` as the whole body (after the docstring) gives TSG751."""
    src = getitem('"""Doc."""\nwith self.lock:\n    return self.x[idx]')
    src = src.replace(
        "class Loader(keras.utils.PyDataset):",
        "import threading\nclass Loader(keras.utils.PyDataset):\n    lock = threading.Lock()",
    )
    assert codes(src) == ["TSG751"]


def test_acquire_release_around_whole_getitem_is_reported() -> None:
    """acquire(); try: ... finally: release() as the whole body gives TSG751."""
    body = "self.lock.acquire()\ntry:\n    return self.x[idx]\nfinally:\n    self.lock.release()"
    init = "    def __init__(self, **kwargs):\n        super().__init__(**kwargs)\n        self.lock = None\n"
    src = getitem(body).replace("    def __len__", init + "    def __len__")
    assert codes(src) == ["TSG751"]


def test_lock_around_part_of_getitem_is_clean() -> None:
    """A lock held around only the shared part is fine."""
    body = "x = self.x[idx]\nwith self.lock:\n    self_total = 1\nreturn x"
    assert codes(getitem(body)) == []
