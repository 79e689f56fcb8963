"""The registry's examples run: each failing example is reported, each fix is not.

docs/checks.md and `threadsafe-gen explain` show, for every code, an example that triggers it
and the same example fixed. They are files in threadsafe_gen/_examples/ (``tsg101.py``,
``tsg101_fix.py``), read through ``REGISTRY[code].example`` / ``.fixed`` (the part below the
line that marks what is shown). The lint codes' files go through the linter as they are; the
codes ``check_loader()`` reports are run as follows.

The examples are snippets: they call helpers they do not define (``load(i)``,
``read_from_disk(i)``, a ``model`` to fit, a "feature-store" host, a "data.db" file; the files
declare them for the type checker only, in ``_assumed.pyi``). Each code has a :class:`Case`
here that supplies them, unchanged, the way a reader would:

* ``helpers`` becomes a module of its own that the example module star-imports first (only its
  functions, classes and data: not its modules, so an example that forgets an import fails);
  spawned workers import a loader class defined there by name, as they would a user's;
* the example becomes ``<tmp>/tsg<code>_example.py`` (and ``..._fixed.py``), imported as a
  fresh module with the temporary directory as working directory (where ``data.db`` is), so
  its classes pickle by reference and spawned workers can import them;
* ``build`` runs in that module and assigns ``loader`` (and optionally ``settings``, extra
  ``check_loader`` arguments such as the ``workers=`` given to a stand-in ``model.fit``);
* ``check`` are the ``check_loader`` arguments that plan the workers the code is about and pick
  the probes that find it, to keep each run short;
* ``release`` runs afterwards, also when the check failed: it ends the threads the example
  starts and releases calls that hang, which the suite's conftest would otherwise report.

A fixed example passes only when every probe that was asked for ran to its end (none failed,
timed out or was skipped), so a probe that broke cannot make a fix look clean.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import multiprocessing
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import threadsafe_gen
from threadsafe_gen import REGISTRY, LoaderReport, check_loader
from threadsafe_gen._lint import lint_paths

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="the examples' worker settings (fork, the forked canary) are those of Linux",
)

#: The runtime codes, all of which have an example except these (with the reason).
WITHOUT_EXAMPLE = {
    "TSG703": "the registry shows no example (tests/test_probes_inspection.py checks tf_keras Sequences)",
}


@dataclasses.dataclass(frozen=True)
class Case:
    """How to run one code's two registry examples (see the module docstring)."""

    helpers: str = ""
    build: str = "loader = Rows(DATA)"
    fixed_build: str | None = None  # when the fixed example is built differently
    check: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    release: str = ""
    slow: bool = False  # spawns processes or waits for seconds (a Keras import counts too)


# --- helpers the examples share ------------------------------------------------------------------

ROWS = """
import numpy as np
DATA = np.arange(256, dtype=np.float32).reshape(64, 4)  # 64 samples of 4 features
"""

# A stand-in for a compiled Keras model: fit() keeps what it was given, so the check can look
# at the loader with the workers fit() was asked for (tf_keras' fit(workers=...)).
MODEL = """
class Model:
    def fit(self, x=None, **kwargs):
        self.x = x
        self.settings = {k: v for k, v in kwargs.items() if k in ("workers", "use_multiprocessing")}

model = Model()
"""
FITTED = "loader, settings = model.x, model.settings"

MY_DATASET = """
import numpy as np

class MyDataset:  # a Sequence with a PyDataset's workers and use_multiprocessing
    def __init__(self, workers=1, use_multiprocessing=False):
        self.workers, self.use_multiprocessing = workers, use_multiprocessing

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.full((8, 4), i, np.float32), np.zeros(8, np.float32)
"""

XY = """
import numpy as np

def load(i):
    return np.full((8, 4), i, np.float32), np.arange(8, dtype=np.float32)
"""

# A "feature-store" host that accepts connections and never answers: connections wait in the
# listening socket's backlog. Closing it resets them, which releases a call stuck in recv().
FEATURE_STORE = """
import socket
import numpy as np

STALLED = socket.create_server(("127.0.0.1", 0))
RESOLVE = socket.getaddrinfo

def resolve(host, port, *args, **kwargs):
    if host == "feature-store":
        host, port = STALLED.getsockname()
    return RESOLVE(host, port, *args, **kwargs)

socket.getaddrinfo = resolve

def decode(data):
    return (np.frombuffer(data, np.uint8),)

def release():
    socket.getaddrinfo = RESOLVE
    STALLED.close()
"""

# The planned workers: spawned processes, or threads. The Keras examples' PyDatasets carry
# their own (workers=2, use_multiprocessing=True) and are checked with fork, Linux's default.
SPAWN_WORKERS = {"workers": 2, "use_multiprocessing": True, "start_method": "spawn"}
THREADS = {"workers": 4, "use_multiprocessing": False}


CASES: dict[str, Case] = {
    # --- pickling: only pickled, never called (no child process)
    "TSG101": Case(ROWS, check={**SPAWN_WORKERS, "probes": ["pickling"]}),
    "TSG102": Case(
        ROWS,
        build="loader = make_loader(DATA)",
        fixed_build="loader = Rows(DATA)",
        check={**SPAWN_WORKERS, "probes": ["pickling"]},
    ),
    # np.zeros maps its 983 MB lazily and the probe counts the pickled bytes without keeping
    # them: a fraction of a second and no memory.
    "TSG103": Case(
        """
import numpy as np
np.save("images.npy", np.zeros((64, 8, 8, 3), np.float32))
""",
        build="loader = Images()",
        fixed_build="loader = Images('images.npy')",
        check={**SPAWN_WORKERS, "probes": ["pickling"]},
    ),
    "TSG104": Case(
        build="loader = Rows(4)",
        check={**SPAWN_WORKERS, "probes": ["spawn_dry_run"]},
        slow=True,
    ),
    # --- fork safety
    "TSG201": Case(
        build="loader = Rows('data.db', workers=2, use_multiprocessing=True)",
        check={"start_method": "fork", "probes": ["process_inspection"]},
        release="vars(loader).get('conn') and loader.conn.close()",
    ),
    # The refresh thread runs forever: STOP, put in place of its lock, ends it.
    "TSG202": Case(
        """
class Stop:
    def __enter__(self):
        raise SystemExit  # ends the thread quietly

    def __exit__(self, *exc):
        return False

STOP = Stop()
""",
        build="loader = Cached(workers=2, use_multiprocessing=True)",
        check={"start_method": "fork", "probes": ["process_inspection"]},
        release="loader.lock = STOP",
    ),
    "TSG203": Case(
        build="loader = Rows('data.db', workers=2, use_multiprocessing=True)",
        check={"start_method": "fork", "probes": ["fork_dry_run"]},
        release="vars(loader).get('conn') and loader.conn.close()",
    ),
    # fit() forks its workers from a process where another thread runs; the thread started
    # here stands in for TensorFlow's. The fixed example sets the start method globally, as
    # a script would: the harness unsets it before and restores it after each run.
    "TSG204": Case(
        MODEL
        + MY_DATASET
        + """
import threading

TF_IDLE = threading.Event()
threading.Thread(target=TF_IDLE.wait, name="tensorflow-standin", daemon=True).start()
""",
        build=FITTED,
        check={"probes": ["process_inspection"]},
        release="TF_IDLE.set()",
    ),
    # --- thread safety
    # The default check: the cursor runs past the data, and the empty batches it then
    # returns count as moved data (a cursor), not as fresh random ones.
    "TSG301": Case(ROWS, check=THREADS),
    # Rows read from storage by a generator, over and over: two threads in next() at once
    # raise "generator already executing". (A list's iterator would just run out.)
    "TSG302": Case(
        """
import time
import numpy as np

class Table:
    def __len__(self):
        return 64

    def __getitem__(self, i):
        time.sleep(0.001)  # reads from disk: another thread's next() comes meanwhile
        return np.full((8, 4), i, np.float32)

    def __iter__(self):
        while True:
            for i in range(len(self)):
                yield self[i]
""",
        build="loader = Rows(Table())",
        check={**THREADS, "probes": ["threads"]},
    ),
    "TSG303": Case(ROWS, check={"probes": ["state"]}),
    "TSG304": Case(ROWS, check={"probes": ["state"]}),
    "TSG305": Case(
        build="loader = Rows('data.db')",
        fixed_build="loader = Rows()",
        check={"probes": ["sequential"]},
        release="vars(loader).get('db') and loader.db.close()",
    ),
    "TSG306": Case(
        """
import time
import numpy as np

def load(i):
    time.sleep(0.001)  # reads from disk: another thread's next() comes meanwhile
    return np.full((8, 4), i, np.float32), np.arange(8, dtype=np.float32)
""",
        build="loader = it",
        check={**THREADS, "probes": ["threads"]},
    ),
    # --- duplicate data
    "TSG401": Case(ROWS, check={"probes": ["duplicates"]}),
    "TSG403": Case(XY, build="loader = batches", check={"hosts": 2, "probes": ["hosts"]}),
    "TSG402": Case(
        MODEL
        + """
import numpy as np

def next_batch():
    return np.random.normal(size=(8, 4)), np.zeros(8)

def batches():  # the example's generator, which the fixed example wraps
    while True:
        yield next_batch()
""",
        build=FITTED,
        check={"start_method": "fork", "probes": ["process_inspection"]},
        release="loader.close()",
    ),
    # --- randomness
    "TSG501": Case(
        XY,
        build="loader = Augmented(workers=2, use_multiprocessing=True)",
        check={"start_method": "fork", "probes": ["fork_dry_run"]},
    ),
    "TSG502": Case(
        XY,
        build="loader = Augmented(workers=2, use_multiprocessing=True)",
        check={"start_method": "fork", "probes": ["fork_dry_run"]},
    ),
    "TSG503": Case(
        XY,
        build="loader = Augmented(workers=2, use_multiprocessing=True)",
        check={"start_method": "fork", "probes": ["process_inspection"]},
    ),
    "TSG504": Case(build="", check={"probes": ["grain_randomness"]}),
    # --- coverage and structure
    "TSG601": Case(ROWS, check={"probes": ["sequential"]}),
    "TSG602": Case(ROWS, check={"probes": ["structure"]}),
    "TSG603": Case(
        MODEL + XY,
        build=FITTED,
        check={"probes": ["structure"]},
        release="loader.close()",
    ),
    "TSG621": Case(
        """
import numpy as np

def load(i):  # the odd batches have no labels
    return np.full((8, 4), i, np.float32), (np.zeros(8) if i % 2 == 0 else None)
""",
        build="loader = Rows()",
        check={"probes": ["structure"]},
    ),
    "TSG622": Case(
        """
def load(i):  # JSON-like rows: whole numbers in some batches
    return [[i + 0.5] * 4] * 8 if i % 2 == 0 else [[i] * 4] * 8
""",
        build="loader = Rows()",
        check={"probes": ["structure"]},
    ),
    "TSG623": Case(
        """
import numpy as np

def load_images(i):  # 8 images, 60x60 pixels, 70x70 in every 4th batch (not the first two)
    side = 70 if i % 4 == 3 else 60
    return [np.zeros((side, side, 3), np.float32)] * 8

def resize(image, size):
    return np.resize(image, (*size, image.shape[-1]))
""",
        build="loader = Rows()",
        check={"probes": ["structure"]},
    ),
    "TSG624": Case(XY, build="loader = Rows()", check={"probes": ["structure"]}),
    # --- performance and resources
    "TSG701": Case(
        """
import time
import numpy as np

def read_from_disk(i):
    time.sleep(0.002)  # waits for the disk, without the GIL
    return np.full((8, 4), i, np.float32)
""",
        build="loader = Rows()",
        check={**THREADS, "probes": ["threads"], "max_batches": 32},
    ),
    "TSG702": Case(
        MODEL + MY_DATASET,
        build=FITTED,
        check={"start_method": "spawn", "probes": ["spawn_dry_run"]},
        slow=True,
    ),
    "TSG723": Case(build="", check={"probes": ["torch_dry_run"], "max_batches": 32}, slow=True),
    "TSG721": Case(
        build="loader = Rows()",
        check={"probes": ["resources"], "max_batches": 16},
        release="[c.close() for c in vars(loader).get('conns', [])]",
    ),
    "TSG722": Case(
        """
import threading
import numpy as np

STOP_CLIENTS = threading.Event()

class Client:
    def __init__(self):  # with a background thread (a connection pool's keep-alive)
        threading.Thread(target=STOP_CLIENTS.wait, daemon=True).start()

    def fetch(self, i):
        return np.full((8, 4), i, np.float32)

def make_client(owner=None):
    return Client()
""",
        build="loader = Rows()",
        check={"probes": ["resources"], "max_batches": 16},
        release="STOP_CLIENTS.set()",
    ),
    # --- hangs and crashes
    # The fixed call gives up after its own 10 s socket timeout, so batch_timeout must be
    # longer. It costs about 25 s: the forked canary gets a quarter of the budget, then the
    # call fails on a helper thread and once more on this one (is the error thread-bound?).
    "TSG801": Case(
        FEATURE_STORE,
        build="loader = Remote()",
        check={"probes": ["sequential"], "timeout": 8.0, "batch_timeout": 1.0},
        release="release()",
    ),
    "TSG802": Case(
        """
import time
import numpy as np

class BigLoader:  # 64 batches of 80 ms
    def __len__(self):
        return 64

    def __getitem__(self, i):
        time.sleep(0.08)
        return np.full((8, 4), i, np.float32), np.zeros(8, np.float32)

big_loader = BigLoader()
""",
        build="",  # the example calls check_loader itself: its `report` is checked
        slow=True,
    ),
    "TSG821": Case(
        XY,
        build="loader = Rows()\nloader.index = list(range(6))",
        check={"probes": ["sequential"], "max_batches": 8},
    ),
    "TSG822": Case(
        """
import numpy as np

def decode(path):
    if path.endswith(".bad"):
        raise ValueError(f"{path}: not a PNG file")
    return np.zeros((8, 4), np.float32)

def is_valid(path):
    return not path.endswith(".bad")

PATHS = [f"img{i}.png" for i in range(7)] + ["img7.bad"]
""",
        build="loader = Rows(PATHS)",
        check={"probes": ["sequential"]},
    ),
}

#: Settings that only the fixed example gets (a fix that waits longer needs a longer limit).
FIXED_CHECK: dict[str, Mapping[str, Any]] = {
    "TSG801": {"probes": ["sequential"], "timeout": 18.0, "batch_timeout": 13.0},
}

#: Runtime codes whose examples are not run, with the reason. Keep it short.
NOT_RUN: dict[str, str] = {}
MAX_NOT_RUN = 2

RUNTIME_CODES = sorted(c for c, check in REGISTRY.items() if check.kind != "lint")
LINT_CODES = sorted(c for c, check in REGISTRY.items() if check.kind == "lint")
RUN = sorted(CASES)
EXAMPLES = Path(threadsafe_gen.__file__).parent / "_examples"


def _uses(code: str, framework: str) -> bool:
    check = REGISTRY[code]
    return any(framework in text for text in (check.example, check.fixed))


def _uses_keras(code: str) -> bool:
    return _uses(code, "keras")


#: Optional frameworks an example may import: its test is marked and skipped without them.
_FRAMEWORKS = ("keras", "torch", "grain")


def _params() -> list[Any]:
    out = []
    for code in RUN:
        used = [name for name in _FRAMEWORKS if _uses(code, name)]
        marks = [pytest.mark.slow] if CASES[code].slow or used else []
        marks += [getattr(pytest.mark, name) for name in used]
        out.append(pytest.param(code, marks=marks, id=code))
    return out


# --- the harness ---------------------------------------------------------------------------------


def _make_db(path: Path) -> None:
    """data.db: table t of 32 rows, 4 per batch (id, batch, x)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("create table t (id integer primary key, batch integer, x real)")
        db.executemany("insert into t values (?, ?, ?)", [(i, i // 4, i * 0.5) for i in range(32)])
        db.commit()


@contextlib.contextmanager
def _no_start_method() -> Iterator[None]:
    """Run as in a fresh interpreter, where no start method is set yet; restore it afterwards."""
    saved = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(None, force=True)
    try:
        yield
    finally:
        multiprocessing.set_start_method(saved, force=True)


def _quiet_exit(hook: Any, args: Any) -> None:
    """threading.excepthook while releasing: a thread that *release* ends with SystemExit
    ends quietly (pytest reports every other exception of a thread)."""
    if not issubclass(args.exc_type, SystemExit):
        hook(args)


def run_example(
    code: str, label: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> LoaderReport:
    """Import REGISTRY[code].<label> as a fresh module, build its loader and check it."""
    case = CASES[code]
    for framework in _FRAMEWORKS:
        if _uses(code, framework):
            pytest.importorskip(framework)
    source = getattr(REGISTRY[code], label)
    name = f"tsg{code[3:]}_{label}"
    helpers = (
        case.helpers
        + "\n__all__ = [n for n, v in dict(globals()).items() if not n.startswith('_')"
        + " and type(v).__name__ != 'module']\n"
    )
    (tmp_path / f"{name}_helpers.py").write_text(helpers, encoding="utf-8")
    (tmp_path / f"{name}.py").write_text(
        f"from {name}_helpers import *\n{source}", encoding="utf-8"
    )
    _make_db(tmp_path / "data.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    build = case.fixed_build if label == "fixed" and case.fixed_build is not None else case.build
    kwargs: dict[str, Any] = {"timeout": 30.0, "batch_timeout": 5.0, **case.check}
    if label == "fixed":
        kwargs.update(FIXED_CHECK.get(code, {}))
    threads_before = set(threading.enumerate())
    ns: dict[str, Any] = {}
    try:
        with _no_start_method():
            ns = vars(importlib.import_module(name))
            exec(build, ns)
            if "loader" not in ns:
                report = ns["report"]  # the example ran check_loader() itself
            else:
                report = check_loader(ns["loader"], **{**kwargs, **ns.get("settings", {})})
    finally:
        hook = threading.excepthook
        threading.excepthook = functools.partial(_quiet_exit, hook)
        try:
            if case.release and ns:
                exec(case.release, ns)
            deadline = time.monotonic() + 5.0
            for t in set(threading.enumerate()) - threads_before:
                if not t.name.startswith("threadsafe_gen-"):
                    t.join(max(0.0, deadline - time.monotonic()))
        finally:
            threading.excepthook = hook
            for mod in (name, f"{name}_helpers"):
                sys.modules.pop(mod, None)
    assert isinstance(report, LoaderReport)
    return report


# --- tests ---------------------------------------------------------------------------------------


def test_every_runtime_code_is_run_or_listed() -> None:
    """Each runtime code has a case here, or no example, or a reason why it is not run."""
    assert sorted({*CASES, *NOT_RUN, *WITHOUT_EXAMPLE}) == RUNTIME_CODES
    assert not set(CASES) & set(NOT_RUN)
    for code in WITHOUT_EXAMPLE:
        assert REGISTRY[code].example == REGISTRY[code].fixed == ""
    for code in CASES:
        assert REGISTRY[code].example, code
        assert REGISTRY[code].fixed, code


def test_codes_not_run_stay_few() -> None:
    """At most a couple of runtime codes' examples are exempt from running, each with a reason."""
    assert len(NOT_RUN) <= MAX_NOT_RUN, NOT_RUN
    assert all(reason.strip() for reason in NOT_RUN.values())


@pytest.mark.parametrize("code", _params())
def test_example_is_reported(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code's failing example, checked with the workers it is about, gets that code."""
    report = run_example(code, "example", tmp_path, monkeypatch)
    assert code in report.codes(), str(report)
    assert [p.name for p in report.probes if p.status == "failed"] == [], str(report)


@pytest.mark.parametrize("code", _params())
def test_fixed_is_clean(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code's fixed example, checked the same way, does not get that code."""
    report = run_example(code, "fixed", tmp_path, monkeypatch)
    assert code not in report.codes(), str(report)
    assert {p.status for p in report.probes} == {"ran"}, str(report)
    assert "TSG802" not in report.codes(), str(report)


# --- the lint codes' examples, linted as the files they are -------------------------------------


def _lint_codes(filename: str) -> list[str]:
    result = lint_paths([EXAMPLES / filename], root=EXAMPLES, report_unused_ignores=True)
    return sorted(f.code for f in result.findings)


@pytest.mark.parametrize("code", LINT_CODES)
def test_lint_example_is_reported(code: str) -> None:
    """The lint code's failing example file gets that code from the linter."""
    filename = REGISTRY[code].example_file
    assert filename is not None, code
    assert code in _lint_codes(filename)


@pytest.mark.parametrize("code", LINT_CODES)
def test_lint_fixed_is_clean(code: str) -> None:
    """The lint code's fixed example file gets no finding at all."""
    filename = REGISTRY[code].fixed_file
    assert filename is not None, code
    assert _lint_codes(filename) == []
