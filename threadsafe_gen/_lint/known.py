"""Names of library objects that several rules look for: locks, above all."""

from __future__ import annotations

import re

__all__ = ["ALL_LOCKS", "THREAD_LOCKS", "lock_like"]

THREAD_LOCKS = frozenset(
    {
        "threading.Lock",
        "threading.RLock",
        "threading.Condition",
        "threading.Semaphore",
        "threading.BoundedSemaphore",
        "_thread.allocate_lock",
        "_thread.RLock",
        "_thread.LockType",
    }
)
_PROCESS_LOCKS = frozenset(
    {
        "multiprocessing.Lock",
        "multiprocessing.RLock",
        "multiprocessing.Condition",
        "multiprocessing.Semaphore",
        "multiprocessing.BoundedSemaphore",
    }
)
# Our lock proxies pickle (they are re-created in the receiving process): not TSG151.
_OUR_LOCKS = frozenset(
    {
        "threadsafe_gen.Lock",
        "threadsafe_gen.RLock",
        "threadsafe_gen.Condition",
        "threadsafe_gen.Semaphore",
        "threadsafe_gen.BoundedSemaphore",
    }
)
ALL_LOCKS = THREAD_LOCKS | _PROCESS_LOCKS | _OUR_LOCKS

#: A name that says "lock" as a word (`lock`, `_lock`, `read_lock`, `mutex`), not as letters
#: inside another word (`block_size`, `clock`).
_LOCK_NAME = re.compile(r"(?:^|_)(?:r?locks?|mutex(?:es)?)(?:_|$)")


def lock_like(name: str) -> bool:
    """True when *name* names a lock (``lock``, ``_lock``, ``read_lock``, ``mutex``)."""
    return _LOCK_NAME.search(name.lower()) is not None
