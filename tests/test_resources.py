"""per_process / per_thread: lazy creation, keys by process and thread, pickling, close, SQLite."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import pickle
import sqlite3
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import threadsafe_gen as tsg
from threadsafe_gen.errors import PicklingRefusedError

N_ROWS = 40


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real SQLite file with N_ROWS rows (id, value = id * 10)."""
    path = tmp_path_factory.mktemp("db") / "rows.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, value INTEGER)")
    conn.executemany("INSERT INTO rows VALUES (?, ?)", [(i, i * 10) for i in range(N_ROWS)])
    conn.commit()
    conn.close()
    return path


def connect_shared(owner: Any) -> sqlite3.Connection:
    """Open owner.path for use from any thread of this process."""
    return sqlite3.connect(owner.path, check_same_thread=False, cached_statements=0)


def connect_own_thread(owner: Any) -> sqlite3.Connection:
    """Open owner.path with SQLite's default check_same_thread=True."""
    return sqlite3.connect(owner.path)


class ProcessRows:
    """A Sequence-like loader reading rows through a per_process connection."""

    db = tsg.per_process(connect_shared, close=sqlite3.Connection.close)

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)

    def __len__(self) -> int:
        return N_ROWS

    def __getitem__(self, i: int) -> int:
        return int(self.db.execute("SELECT value FROM rows WHERE id = ?", (i,)).fetchone()[0])


class ThreadRows(ProcessRows):
    """The same loader with a per_thread connection (check_same_thread=True)."""

    db = tsg.per_thread(connect_own_thread, close=sqlite3.Connection.close)


def run_on_barrier(n_threads: int, target: Any) -> list[Any]:
    """Run target(i) in n_threads threads started together on a Barrier; return the results."""
    barrier = threading.Barrier(n_threads)
    results: list[Any] = [None] * n_threads
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as exc:  # surfaced below, never lost
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    return results


class Counted:
    """A factory that counts its calls and returns a fresh object each time."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> object:
        with self.lock:
            self.calls += 1
        return object()


# --- creation and keys -----------------------------------------------------------------


@given(n_threads=st.integers(1, 8))
def test_per_process_creates_one_object_even_under_a_barrier_race(n_threads: int) -> None:
    """Threads racing on first use of a per_process resource all get one object, made once."""
    factory = Counted()
    res = tsg.per_process(factory)
    objects = run_on_barrier(n_threads, lambda _: res.get())
    assert len({id(o) for o in objects}) == 1
    assert factory.calls == 1


@given(n_threads=st.integers(1, 8))
def test_per_thread_gives_each_thread_its_own_object(n_threads: int) -> None:
    """Every thread gets its own object from per_thread, and the same one on every call."""
    factory = Counted()
    res = tsg.per_thread(factory)
    pairs = run_on_barrier(n_threads, lambda _: (res.get(), res.get()))
    assert n_threads == len({id(first) for first, _ in pairs})
    assert all(first is second for first, second in pairs)
    assert n_threads == factory.calls


def test_descriptor_is_lazy_and_per_instance(db_path: Path) -> None:
    """As a class attribute, each instance gets its own object, created on first access."""
    factory = Counted()

    class Owner:
        res = tsg.per_process(factory)

    a, b = Owner(), Owner()
    assert factory.calls == 0
    assert a.res is a.res
    assert a.res is not b.res
    assert factory.calls == 2
    assert Owner.res is Owner.__dict__["res"]


def test_factory_may_take_the_owner(db_path: Path) -> None:
    """A one-argument factory receives the instance, e.g. to read its path."""
    rows = ProcessRows(db_path)
    assert [rows[0], rows[1], rows[39]] == [0, 10, 390]
    ProcessRows.db.close_all()


def test_assignment_is_refused_and_del_recreates() -> None:
    """Assigning the attribute raises; `del` closes this process's object and the next use re-creates it."""
    closed: list[object] = []

    class Owner:
        res = tsg.per_process(object, close=closed.append)

    owner = Owner()
    first = owner.res
    with pytest.raises(AttributeError, match=r"Owner.res is a per-process resource"):
        owner.res = object()
    del owner.res
    assert [first] == closed
    assert owner.res is not first


def test_bad_arguments_are_explained() -> None:
    """Non-callable factory or close, a two-argument factory, and .get() of an owner factory raise."""
    with pytest.raises(TypeError, match=r"expected a callable factory, got 3 \(type=int\)"):
        tsg.per_process(3)  # type: ignore[arg-type]  # a non-callable, on purpose
    with pytest.raises(TypeError, match=r"expected close to be a callable or None"):
        tsg.per_thread(object, close="close")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"taking no argument, or one \(the owner"):
        tsg.per_process(lambda a, b: None)  # type: ignore[arg-type]  # two arguments, on purpose
    with pytest.raises(TypeError, match=r"only works as a class attribute"):
        tsg.per_process(connect_shared).get()


def test_repr_shows_how_it_was_built() -> None:
    """repr names the maker, the factory, the close callback and the attribute."""
    expected = (
        "per_process(test_resources.connect_shared, close=sqlite3.Connection.close) "
        "for ProcessRows.db"
    )
    assert expected == repr(ProcessRows.db)


# --- pickling --------------------------------------------------------------------------


def test_owner_pickles_without_the_object_and_recreates_it(db_path: Path) -> None:
    """An instance pickles without its connection; the copy opens its own, the original keeps its own."""
    rows = ProcessRows(db_path)
    original = rows.db
    copy = pickle.loads(pickle.dumps(rows))
    assert copy.db is not original
    assert rows[5] == copy[5]
    assert rows.db is original
    ProcessRows.db.close_all()


def test_standalone_pickles_as_its_factory() -> None:
    """A standalone resource pickles as (factory, close) and creates a new object after."""
    res: tsg.PerProcess[dict[str, int]] = tsg.per_process(
        functools.partial(dict, a=1), close=dict.clear
    )
    made = res.get()
    copy = pickle.loads(pickle.dumps(res))
    assert (copy.get(), copy.get() is made) == ({"a": 1}, False)
    expected = "per_process(functools.partial(<class 'dict'>, a=1), close=builtins.dict.clear)"
    assert expected == repr(copy)


def test_standalone_with_a_lambda_refuses_to_pickle_clearly() -> None:
    """A standalone resource whose factory is a lambda raises PicklingRefusedError saying why."""
    res = tsg.per_thread(lambda: 1)
    with pytest.raises(PicklingRefusedError, match=r"is a lambda or a local function"):
        pickle.dumps(res)


def read_rows_in_worker(rows: ProcessRows) -> tuple[int, list[int]]:
    """Read every row in a worker process; return the pid and the values."""
    return os.getpid(), [rows[i] for i in range(len(rows))]


@pytest.mark.slow
def test_spawned_worker_opens_its_own_connection(db_path: Path) -> None:
    """A loader opened in the parent is sent to a spawn worker, which opens its own connection."""
    rows = ProcessRows(db_path)
    expected = [rows[i] for i in range(N_ROWS)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        pid, values = pool.submit(read_rows_in_worker, rows).result(timeout=120)
    assert (True, expected) == (pid != os.getpid(), values)
    ProcessRows.db.close_all()


# --- close -----------------------------------------------------------------------------


def test_close_all_closes_what_this_process_created() -> None:
    """close_all() calls close on every object made here, then forgets them."""
    closed: list[object] = []
    res = tsg.per_thread(Counted(), close=closed.append)
    objects = run_on_barrier(3, lambda _: res.get())
    mine = res.get()
    res.close_all()
    assert {id(o) for o in [*objects, mine]} >= {id(o) for o in closed}
    assert id(mine) in {id(o) for o in closed}
    assert res.get() is not mine


def test_per_thread_closes_a_thread_object_in_that_thread_when_it_ends(db_path: Path) -> None:
    """A thread's SQLite connection (check_same_thread=True) is closed in that thread when it ends."""
    closed_in: list[tuple[int, int]] = []

    def close(conn: sqlite3.Connection) -> None:
        conn.close()  # raises ProgrammingError if called from another thread
        closed_in.append((id(conn), threading.get_ident()))

    class Owner:
        db = tsg.per_thread(connect_own_thread, close=close)
        path = str(db_path)

    owner = Owner()
    made: list[tuple[int, int]] = []

    def work() -> None:
        conn = owner.db
        conn.execute("SELECT 1")
        made.append((id(conn), threading.get_ident()))

    t = threading.Thread(target=work)
    t.start()
    t.join(10)
    assert made == closed_in


# --- SQLite under threads --------------------------------------------------------------


@pytest.mark.parametrize("loader_class", [ProcessRows, ThreadRows])
def test_sqlite_loader_reads_every_row_from_4_threads(
    db_path: Path, loader_class: type[ProcessRows]
) -> None:
    """Both recommended set-ups read every row exactly once from 4 threads on a Barrier."""
    rows = loader_class(db_path)
    rows[0]  # opened in this thread first, as Keras' spec peek does

    def read(i: int) -> list[int]:
        return [rows[j] for j in range(i, N_ROWS, 4)]

    values = sorted(v for part in run_on_barrier(4, read) for v in part)
    assert [i * 10 for i in range(N_ROWS)] == values
    loader_class.db.close_all()


def test_raw_sqlite_connection_fails_in_another_thread(db_path: Path) -> None:
    """The problem being solved: a connection opened in one thread is refused in another."""
    conn = sqlite3.connect(db_path)
    errors: list[str] = []

    def use() -> None:
        try:
            conn.execute("SELECT 1")
        except sqlite3.ProgrammingError as exc:
            errors.append(str(exc).split(".")[0])

    t = threading.Thread(target=use)
    t.start()
    t.join(10)
    conn.close()
    assert errors == ["SQLite objects created in a thread can only be used in that same thread"]


# --- fork --------------------------------------------------------------------------------

FORK_SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing, os, sqlite3, sys
    import threadsafe_gen as tsg

    closed = []

    def close(conn):
        closed.append(os.getpid())
        conn.close()

    class Rows:
        db = tsg.per_process(lambda self: sqlite3.connect(self.path), close=close)
        tdb = tsg.per_thread(lambda self: sqlite3.connect(self.path), close=close)

        def __init__(self, path):
            self.path = path

    def child(rows, queue):
        # The parent's connections were made in another process; these are new ones.
        conn, tconn = rows.db, rows.tdb
        value = conn.execute("SELECT value FROM rows WHERE id = 3").fetchone()[0]
        tvalue = tconn.execute("SELECT value FROM rows WHERE id = 4").fetchone()[0]
        Rows.db.close_all()
        Rows.tdb.close_all()
        queue.put({"pid": os.getpid(), "ids": [id(conn), id(tconn)], "values": [value, tvalue],
                   "closed_by": sorted(set(closed))})

    if __name__ == "__main__":
        rows = Rows(sys.argv[1])
        parent_ids = [id(rows.db), id(rows.tdb)]
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        p = ctx.Process(target=child, args=(rows, queue))
        p.start()
        result = queue.get(timeout=60)
        p.join(60)
        result["exitcode"] = p.exitcode
        result["parent_same"] = [id(rows.db), id(rows.tdb)] == parent_ids
        # still open: the child did not close the parent's connections
        result["parent_values"] = [rows.db.execute("SELECT value FROM rows WHERE id = 5").fetchone()[0],
                                   rows.tdb.execute("SELECT value FROM rows WHERE id = 6").fetchone()[0]]
        result["parent_ids"] = parent_ids
        result["parent_pid"] = os.getpid()
        print(json.dumps(result))
    """
)


@pytest.mark.slow
def test_forked_child_gets_new_objects_and_leaves_the_parents_open(
    db_path: Path, tmp_path: Path
) -> None:
    """Under fork the child opens its own connections and closes only those; the parent's stay usable."""
    script = tmp_path / "fork_resources.py"
    script.write_text(FORK_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), str(db_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["exitcode"] == 0
    assert result["values"] == [30, 40]
    assert result["parent_values"] == [50, 60]
    assert result["parent_same"] is True
    assert [result["pid"]] == result["closed_by"]
    assert result["pid"] != result["parent_pid"]


EXIT_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os, sys
    import threadsafe_gen as tsg

    LOG = sys.argv[1]

    def note_close(obj):
        with open(LOG, "a") as f:
            f.write(f"closed {obj} in {os.getpid()}\\n")

    res = tsg.per_process(os.getpid, close=note_close)  # the object is its creator's pid

    def worker():
        res.get()  # created in the worker; the worker never calls close_all()

    if __name__ == "__main__":
        res.get()
        for method in ("fork", "spawn"):
            p = multiprocessing.get_context(method).Process(target=worker)
            p.start()
            p.join(60)
            with open(LOG, "a") as f:
                f.write(f"{method} worker {p.pid} exit {p.exitcode}\\n")
        with open(LOG, "a") as f:
            f.write(f"parent {os.getpid()} exiting\\n")
    """
)


@pytest.mark.slow
def test_exit_closes_each_process_own_objects_only(tmp_path: Path) -> None:
    """Worker exit (fork and spawn) and interpreter exit close exactly the objects made there."""
    script, log = tmp_path / "exit_close.py", tmp_path / "log.txt"
    script.write_text(EXIT_SCRIPT)
    subprocess.run([sys.executable, str(script), str(log)], timeout=120, check=True)
    lines = log.read_text().splitlines()
    fork_pid, spawn_pid = (int(line.split()[2]) for line in lines if " worker " in line)
    parent_pid = int(next(line for line in lines if line.startswith("parent")).split()[1])
    expected = [
        f"closed {fork_pid} in {fork_pid}",
        f"fork worker {fork_pid} exit 0",
        f"closed {spawn_pid} in {spawn_pid}",
        f"spawn worker {spawn_pid} exit 0",
        f"parent {parent_pid} exiting",
        f"closed {parent_pid} in {parent_pid}",
    ]
    assert expected == lines


FORK_FROM_OTHER_THREAD_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os, sys, threading
    import threadsafe_gen as tsg

    LOG = sys.argv[1]

    def note_close(obj):
        with open(LOG, "a") as f:
            f.write(f"closed {obj} in {os.getpid()}\\n")

    res = tsg.per_thread(os.getpid, close=note_close)  # the object is its creator's pid

    def child():
        res.get()
        res.close_all()

    def start_worker():
        # Keras forks from its enqueuer thread, not from the thread that used the loader.
        p = multiprocessing.get_context("fork").Process(target=child)
        p.start()
        p.join(60)
        with open(LOG, "a") as f:
            f.write(f"worker {p.pid} exit {p.exitcode}\\n")

    if __name__ == "__main__":
        res.get()  # made by the main thread, which is not the forking thread
        t = threading.Thread(target=start_worker)
        t.start()
        t.join()
        with open(LOG, "a") as f:
            f.write(f"parent {os.getpid()} exiting\\n")
    """
)


@pytest.mark.slow
def test_fork_from_another_thread_never_closes_the_parents_per_thread_objects(
    tmp_path: Path,
) -> None:
    """Forking from a thread other than the creator's leaves the creator's object unclosed in the child."""
    script, log = tmp_path / "fork_other_thread.py", tmp_path / "log.txt"
    script.write_text(FORK_FROM_OTHER_THREAD_SCRIPT)
    subprocess.run([sys.executable, str(script), str(log)], timeout=120, check=True)
    lines = log.read_text().splitlines()
    worker_pid = int(next(line for line in lines if line.startswith("worker")).split()[1])
    parent_pid = int(next(line for line in lines if line.startswith("parent")).split()[1])
    expected = [
        f"closed {worker_pid} in {worker_pid}",
        f"worker {worker_pid} exit 0",
        f"parent {parent_pid} exiting",
        f"closed {parent_pid} in {parent_pid}",
    ]
    assert expected == lines


# --- a factory that reads its own resource (issue 11 item 23) ---------------------------------


def _within(fn: Any, timeout: float = 10.0) -> BaseException | None:
    """Run fn() in a helper thread; the exception it raised (None if none); fail on a hang."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # returned to the test
            raised.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail(f"the factory did not return within {timeout} s (a deadlock)")
    return raised[0] if raised else None


class ReadsItself:
    """Factories that read the attribute they are creating."""

    conn = tsg.per_process(lambda self: ("conn", self.conn))
    local = tsg.per_thread(lambda self: ("local", self.local))


@pytest.mark.parametrize("attr", ["conn", "local"])
def test_factory_reading_its_own_attribute_is_an_error_not_a_deadlock(attr: str) -> None:
    """self.<attr> inside its own factory raises RuntimeError naming the attribute."""
    exc = _within(lambda: getattr(ReadsItself(), attr))
    assert isinstance(exc, RuntimeError)
    assert f"ReadsItself.{attr} was read by its own factory" in str(exc)


@pytest.mark.parametrize("make", [tsg.per_process, tsg.per_thread])
def test_standalone_factory_calling_get_is_an_error_not_a_deadlock(make: Any) -> None:
    """.get() inside the factory of the same standalone resource raises RuntimeError."""
    box: list[Any] = []
    res = make(lambda: box[0].get())
    box.append(res)
    exc = _within(res.get)
    assert isinstance(exc, RuntimeError)
    assert "was read by its own factory" in str(exc)
    assert "deadlock" in str(exc)


def test_a_factory_may_read_another_resource() -> None:
    """Reading a different resource of the same owner from a factory still works."""

    class Two:
        base = tsg.per_process(lambda self: 1)
        derived = tsg.per_process(lambda self: self.base + 1)

    assert _within(lambda: Two().derived) is None
    assert Two().derived == 2
