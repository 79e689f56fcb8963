"""The pickling probe: every unpicklable member by path, import by name, payload size, severity."""

from __future__ import annotations

import ast
import io
import os
import pickle
import socket
import sqlite3
import threading
from typing import Any

import loaders.basic as L
import numpy as np
import pytest
from helpers.probes import assert_nothing_left, run_isolated
from hypothesis import given
from hypothesis import strategies as st

from threadsafe_gen import check_loader
from threadsafe_gen._probes.pickling import (
    _has_main_guard,
    find_unpicklable,
    pickled_size,
)
from threadsafe_gen._registry import Severity


def paths(obj: Any) -> list[tuple[str, str]]:
    """(path, type) of every culprit."""
    return [(u.path, u.type_name) for u in find_unpicklable(obj)]


def test_every_culprit_is_reported_with_its_path() -> None:
    """Lock, lock inside a config object, lambda in a list in a dict, generator, connection."""
    got = paths(L.UnpicklableSeq())
    assert got == [
        ("loader.lock", "_thread.lock"),
        ("loader.cfg['aug'].lock", "_thread.lock"),
        (
            "loader.cfg['fns'][1]",
            "function loaders.basic.UnpicklableSeq.__init__.<locals>.<lambda>",
        ),
        ("loader.gen", "generator"),
        ("loader.conn", "sqlite3.Connection"),
    ]


def test_picklable_object_has_no_culprits() -> None:
    """A clean loader (arrays, lists, module-level functions) pickles: empty list."""
    assert find_unpicklable(L.CleanSeq()) == []


def test_lambda_and_local_class_are_tsg102() -> None:
    """Code that cannot be imported by name is TSG102; a lock is TSG101."""

    class Local:
        pass

    obj = {"cls": Local, "fn": lambda: 1, "lock": threading.RLock()}
    assert {u.path: u.code for u in find_unpicklable(obj)} == {
        "loader['cls']": "TSG102",
        "loader['fn']": "TSG102",
        "loader['lock']": "TSG101",
    }


class Slotted:
    """An object with __slots__ and no __dict__."""

    __slots__ = ("a", "b")

    def __init__(self) -> None:
        self.a = 1
        self.b = threading.Event()


class WithState:
    """__getstate__ returns a tuple: the walk follows what pickle would pickle."""

    def __init__(self) -> None:
        self.local = threading.local()

    def __getstate__(self) -> tuple[Any, ...]:
        return ("v1", {"inner": self.local})


class Drops:
    """__getstate__ drops its lock: pickles fine, so nothing is reported."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data = [1, 2]

    def __getstate__(self) -> dict[str, Any]:
        return {"data": self.data}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, lock=threading.Lock())


def test_slots_getstate_sets_and_cycles() -> None:
    """Slots, custom __getstate__, sets, tuples and a cycle: each culprit once, by path."""
    cyc: list[Any] = []
    cyc.append(cyc)
    cyc.append(threading.Lock())
    obj = {"slots": Slotted(), "state": WithState(), "drops": Drops(), "cycle": cyc}
    assert paths(obj) == [
        ("loader['slots'].b", "threading.Event"),
        ("loader['state'].__getstate__()[1]['inner']", "_thread._local"),
        ("loader['cycle'][1]", "_thread.lock"),
    ]


def test_file_and_socket_with_multiprocessing_pickler() -> None:
    """A file is refused; a socket passes ForkingPickler (fd duplication, docs/failure-modes.md row 2b''')."""
    threads_before = threading.active_count()
    fds_before = len(os.listdir("/proc/self/fd"))
    with open(__file__, "rb") as fh, socket.socket() as sock:
        obj = {"fh": fh, "sock": sock}
        assert paths(obj) == [("loader['fh']", "_io.BufferedReader")]
        assert pickled_size({"sock": sock}) > 0
        with pytest.raises(TypeError):
            pickle.dumps(sock)
    # ForkingPickler alone would have started multiprocessing's resource_sharer thread and
    # kept a duplicate of the socket's descriptor open in this process.
    assert (threading.active_count(), len(os.listdir("/proc/self/fd"))) == (
        threads_before,
        fds_before,
    )


def test_our_lock_proxies_and_resources_pickle() -> None:
    """threadsafe_gen.Lock and per_process resources pickle by design: nothing to report."""
    import threadsafe_gen as tsg

    obj: dict[str, Any] = {"lock": tsg.Lock(), "cond": tsg.Condition()}
    if hasattr(tsg, "per_process"):
        obj["db"] = tsg.per_process(_memory_db)
    assert find_unpicklable(obj) == []


def _memory_db() -> sqlite3.Connection:
    return sqlite3.connect(":memory:")


def test_refusing_reduce_is_reported_with_its_message() -> None:
    """An object whose __reduce__ raises is the culprit, with its own message."""
    from threadsafe_gen import threadsafe_generator

    started = threadsafe_generator(L.gen_clean)()
    next(started)
    (u,) = find_unpicklable({"it": started})
    assert u.path == "loader['it']"
    assert "PicklingRefusedError" in u.error


def test_depth_limit_is_reported() -> None:
    """A chain deeper than the walk's limit ends with a '...' entry instead of recursing forever."""
    deep: Any = threading.Lock()
    for _ in range(100):
        deep = [deep]
    found = find_unpicklable(deep)
    assert found[-1].type_name == "..."


# Strategy: nested dicts/lists whose leaves are ints or locks; the expected culprits are the
# paths of the locks, in the order pickle meets them.
_leaf = st.sampled_from(["int", "lock"])
_tree = st.recursive(
    _leaf,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from("abcd"), kids, max_size=4)
    ),
    max_leaves=12,
)


def _build(spec: Any, path: str, expected: list[str]) -> Any:
    if spec == "int":
        return 7
    if spec == "lock":
        expected.append(path)
        return threading.Lock()
    if isinstance(spec, list):
        return [_build(s, f"{path}[{i}]", expected) for i, s in enumerate(spec)]
    return {k: _build(v, f"{path}[{k!r}]", expected) for k, v in spec.items()}


@given(_tree)
def test_walk_finds_exactly_the_unpicklable_leaves(spec: Any) -> None:
    """For any nesting of dicts and lists, the culprits are exactly the locks, by path."""
    expected: list[str] = []
    obj = _build(spec, "loader", expected)
    assert expected == [u.path for u in find_unpicklable(obj)]


def test_pickled_size_counts_bytes_without_keeping_them() -> None:
    """pickled_size equals len(pickle.dumps) at the highest protocol."""
    obj = {"a": np.arange(1000), "b": "x" * 100}
    assert len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)) == pickled_size(obj)


_SCRIPT = """
import numpy as np
from threadsafe_gen import check_loader

class Rows:
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return (np.zeros((2, 2)),)

{body}
"""
_RUN = "report = check_loader(Rows(), use_multiprocessing=True, start_method='spawn', probes=['pickling'])\nprint(sorted(report.codes()))"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_RUN, "['TSG102']"),
        ('if __name__ == "__main__":\n    ' + _RUN.replace("\n", "\n    "), "[]"),
    ],
)
def test_class_in_unguarded_main_script_is_tsg102(tmp_path: Any, body: str, expected: str) -> None:
    """A loader class in a script without a __main__ guard: spawned workers re-run it (TSG102)."""
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(_SCRIPT.format(body=body), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == expected


def test_main_guard_detection() -> None:
    """`if __name__ == "__main__":` in either order of operands counts as a guard."""
    assert _has_main_guard(ast.parse('if __name__ == "__main__":\n    pass\n'))
    assert _has_main_guard(ast.parse("if '__main__' == __name__:\n    pass\n"))
    assert not _has_main_guard(ast.parse("x = 1\n"))


# --- the probe through check_loader -------------------------------------------------------------


@pytest.mark.parametrize(
    ("use_mp", "method", "severity"),
    [
        (False, "fork", Severity.WARNING),
        (False, "spawn", Severity.WARNING),
        (True, "fork", Severity.WARNING),
        (True, "spawn", Severity.ERROR),
        (True, "forkserver", Severity.ERROR),
    ],
)
def test_severity_follows_planned_workers(use_mp: bool, method: str, severity: Severity) -> None:
    """Spawn-only problems: errors for spawn/forkserver processes, warnings for fork or threads."""
    report = check_loader(
        L.UnpicklableSeq(),
        workers=2,
        use_multiprocessing=use_mp,
        start_method=method,
        probes=["pickling"],
    )
    assert {severity} == {f.severity for f in report.findings}
    assert len(report.findings) == 5


def test_message_names_path_type_and_consequence() -> None:
    """The message says what, which path and type, and why it matters."""
    report = check_loader(
        L.UnpicklableSeq(), use_multiprocessing=True, start_method="spawn", probes=["pickling"]
    )
    f = next(f for f in report.findings if f.path == "loader.conn")
    assert f.message.startswith("loader.conn (sqlite3.Connection) cannot be pickled")
    assert "threadsafe_gen.per_process" in f.hint
    assert f.check.anchor == "docs/checks.md#tsg101"
    assert "docs/checks.md#tsg101" in str(report)  # the renderer links each finding


def test_large_payload_is_tsg103_with_bytes() -> None:
    """A 20 MiB array on the loader: TSG103 with the byte count and the per-epoch estimate."""
    report = check_loader(
        L.BigSeq(), workers=4, use_multiprocessing=True, start_method="spawn", probes=["pickling"]
    )
    (f,) = report.findings
    assert (f.code, f.severity) == ("TSG103", Severity.WARNING)
    assert f.details["bytes"] > 20 * 2**20
    assert f.details["bytes_per_epoch"] == 4 * f.details["bytes"]


def test_small_clean_loader_has_no_pickling_findings() -> None:
    """A clean sequence pickles and is small: no finding, the size is in the probe note."""
    report = check_loader(
        L.CleanSeq(), use_multiprocessing=True, start_method="spawn", probes=["pickling"]
    )
    assert report.findings == []
    assert report.probes[0].note.endswith("bytes pickled")


def test_generator_object_is_unpicklable_loader() -> None:
    """A generator passed as the loader: TSG101 at path 'loader' (docs/failure-modes.md row 5.1)."""
    report = check_loader(
        L.gen_clean(), use_multiprocessing=True, start_method="spawn", probes=["pickling"]
    )
    assert [(f.code, f.path) for f in report.findings] == [("TSG101", "loader")]


@pytest.mark.slow
@pytest.mark.keras
def test_tf_keras_flow_reports_lock_and_generator() -> None:
    """ImageDataGenerator().flow holds a lock and a generator: both paths (docs/failure-modes.md row 7.1)."""
    pytest.importorskip("tf_keras")
    import loaders.basic_keras as loaders_tf

    flow = loaders_tf.image_flow()
    report = check_loader(flow, use_multiprocessing=True, start_method="spawn", probes=["pickling"])
    assert {("loader.lock", "_thread.lock"), ("loader.index_generator", "generator")} <= {
        (f.path, f.details["type"]) for f in report.findings
    }
    assert not report.ok


def test_unused_io() -> None:
    """BytesIO pickles (it is data, not a handle): nothing reported."""
    assert find_unpicklable({"buf": io.BytesIO(b"abc")}) == []


# --- a __getstate__ that never returns ----------------------------------------------------------

BLOCKING_GETSTATE = """
import threading
import numpy as np

RELEASE = threading.Event()
KWARGS = {"timeout": 8.0, "batch_timeout": 1.0, "probes": PROBES}

class BlockingGetstate:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return (np.full((2, 1), i, np.float32), np.zeros(2))

    def __getstate__(self):
        RELEASE.wait()
        return dict(self.__dict__)

def make():
    return BlockingGetstate()

def release(loader):
    RELEASE.set()
"""


BLOCKING_ITERATOR = """
import threading
import numpy as np

RELEASE = threading.Event()
KWARGS = {"timeout": 8.0, "batch_timeout": 1.0, "probes": PROBES}

class BlockingIterator:
    def __init__(self):
        self.n = 0

    def __iter__(self):
        return self

    def __next__(self):
        self.n += 1
        if self.n > 8:
            raise StopIteration
        return (np.full((2, 1), self.n, np.float32), np.zeros(2))

    def __getstate__(self):
        RELEASE.wait()
        return dict(self.__dict__)

def make():
    return BlockingIterator()

def release(loader):
    RELEASE.set()
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "probes"),
    [
        (BLOCKING_GETSTATE, None),
        (BLOCKING_GETSTATE, ["spawn_dry_run"]),
        (BLOCKING_ITERATOR, None),
    ],
    ids=["all", "spawn-alone", "iterator-object"],
)
def test_getstate_that_blocks_is_tsg801_within_budget(
    tmp_path: Any, case: str, probes: Any
) -> None:
    """Pickling the loader blocks for ever (the pickling probe, the spawn dry run sending it,
    or check_loader copying an iterator object): check_loader returns in time with TSG801 on
    the loader, and leaves nothing behind."""
    result = run_isolated(case.replace("PROBES", repr(probes)), tmp_path, hard_timeout=60)
    assert result["elapsed"] < 8.0 + 5.0
    assert ["TSG801", "loader"] in result["findings"]
    assert_nothing_left(result)


class _Engine:
    """A library object whose internals hold several unpicklable members."""

    def __init__(self) -> None:
        self._graph_lock = threading.Lock()
        self._cache = {"a": threading.Lock(), "b": threading.Lock()}


class _OneObjectSeq(L.CleanSeq):
    def __init__(self) -> None:
        super().__init__()
        self.engine = _Engine()
        self.fn = lambda x: x


def test_one_finding_per_top_level_attribute() -> None:
    """Three locks inside loader.engine: one TSG101 that lists them (issue 10 item 8)."""
    report = check_loader(
        _OneObjectSeq(), use_multiprocessing=True, start_method="spawn", probes=["pickling"]
    )
    (f,) = [f for f in report.findings if f.code == "TSG101"]
    assert (f.path, f.details["attribute"]) == ("loader.engine._graph_lock", "loader.engine")
    assert len(f.details["members"]) == 3
    assert "and 2 more members of loader.engine" in f.message


def test_lambda_attribute_names_the_lint_code() -> None:
    """The check's TSG102 for a lambda on the loader names lint's TSG151 (issue 10 item 10)."""
    report = check_loader(
        _OneObjectSeq(), use_multiprocessing=True, start_method="spawn", probes=["pickling"]
    )
    (f,) = [f for f in report.findings if f.code == "TSG102"]
    assert f.path == "loader.fn"
    assert "`threadsafe-gen lint` reports such an attribute as TSG151" in f.message
