"""per_process/per_thread close the objects of an owner that is garbage-collected (Python 3.13
warns about every sqlite3 connection dropped unclosed)."""

from __future__ import annotations

import gc
import sqlite3
import threading
import warnings
import weakref
from typing import Any

import threadsafe_gen as tsg


class Handle:
    """A resource that records whether it was closed; refers back to its owner (a cycle)."""

    def __init__(self, owner: Any = None) -> None:
        self.owner = owner
        self.closed_in: int | None = None

    def close(self) -> None:
        self.closed_in = threading.get_ident()


def test_dropped_owner_closes_its_per_process_objects() -> None:
    """An owner garbage-collected with its object: close runs (3.13: no unclosed sqlite3)."""

    class Owner:
        res = tsg.per_process(Handle, close=Handle.close)

    owner = Owner()
    handle = owner.res
    del owner
    gc.collect()
    assert handle.closed_in == threading.get_ident()


def test_an_object_referring_to_its_owner_does_not_keep_it_alive() -> None:
    """owner -> slot -> object -> owner is a cycle the collector frees, closing the object."""
    closed: list[int] = []

    class Owned:
        def __init__(self, owner: Any) -> None:
            self.owner = owner

        def close(self) -> None:
            closed.append(1)

    class Owner:
        res = tsg.per_process(Owned, close=Owned.close)

    owner = Owner()
    assert owner.res.owner is owner
    ref = weakref.ref(owner)
    del owner
    gc.collect()
    assert ref() is None
    assert closed == [1]


def test_dropped_owner_closes_sqlite_without_resource_warning() -> None:
    class Rows:
        db = tsg.per_process(
            lambda self: sqlite3.connect(":memory:"), close=sqlite3.Connection.close
        )

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = Rows()
        rows.db.execute("select 1").fetchone()
        del rows
        gc.collect()


def test_per_thread_closes_only_the_collecting_threads_object() -> None:
    """Another live thread's per_thread object is not closed from here (it may be bound to it)."""

    class Owner:
        res = tsg.per_thread(Handle, close=Handle.close)

    owner = Owner()
    mine = owner.res
    theirs: list[Handle] = []
    started, release = threading.Event(), threading.Event()

    def other() -> None:
        theirs.append(owner.res)  # noqa: F821  (read before `del owner` below clears the cell)
        started.set()
        release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    started.wait(10)
    del owner
    gc.collect()
    assert mine.closed_in == threading.get_ident()
    assert theirs[0].closed_in is None
    release.set()
    t.join()


def test_standalone_resource_dropped_closes_its_object() -> None:
    res = tsg.per_process(Handle, close=Handle.close)
    handle = res.get()
    del res
    gc.collect()
    assert handle.closed_in is not None
