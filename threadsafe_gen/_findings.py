"""Findings as data: the one registry of codes, the Finding record and the LoaderReport.

`check_loader()` (dynamic probes), `threadsafe-gen lint` (static rules), the CLI's output
formats and the docs' checks page all read :data:`REGISTRY`. A code is defined here once;
nothing else spells out a title, a category or a default severity.

Numbering: ``TSG<c><nn>`` where ``c`` is the category group (1 pickling, 2 fork-safety,
3 thread-safety, 4 duplicate-data, 5 randomness, 6 coverage/structure,
7 performance/resources, 8 hang/crash). Codes ``x00``-``x49`` come from ``check_loader()``
(dynamic), codes ``x50``-``x99`` from the static linter. Codes are never reused.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from .errors import LoaderCheckError

__all__ = [
    "DOCS_CHECKS_PAGE",
    "REGISTRY",
    "Category",
    "Check",
    "Finding",
    "LoaderReport",
    "Location",
    "ProbeResult",
    "Severity",
    "docs_anchor",
    "make_finding",
]

#: Where each code is explained. Relative to the repository, so it is true before the docs
#: site is published; `docs/checks.md` is generated from this registry.
DOCS_CHECKS_PAGE = "docs/checks.md"


class Category(str, enum.Enum):
    """What kind of problem a finding describes (the exact list users filter on)."""

    PICKLING = "pickling"
    FORK_SAFETY = "fork-safety"
    THREAD_SAFETY = "thread-safety"
    DUPLICATE_DATA = "duplicate-data"
    RANDOMNESS = "randomness"
    COVERAGE = "coverage"
    STRUCTURE = "structure"
    PERFORMANCE = "performance"
    RESOURCES = "resources"
    HANG = "hang"
    CRASH = "crash"

    def __str__(self) -> str:
        return self.value


class Severity(str, enum.Enum):
    """How bad a finding is. ``error`` fails `LoaderReport.ok` and the CLI by default."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """2 for error, 1 for warning, 0 for info: compare severities with this."""
        return {"error": 2, "warning": 1, "info": 0}[self.value]

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Check:
    """One registered code: what the docs page, the CLI and every finding say about it."""

    code: str
    name: str  # kebab-case slug, stable like the code
    title: str  # one line, what is wrong
    category: Category
    severity: Severity  # default; a probe may raise or lower it with a reason
    kind: Literal["check", "lint"]
    why: str  # why it matters, in user terms
    fix: str  # how to fix it, naming our wrapper where one fits
    example: str = ""  # a short failing example (Python source), for the docs
    fixed: str = ""  # the same example fixed

    @property
    def anchor(self) -> str:
        """The docs anchor of this code, e.g. ``docs/checks.md#tsg101``."""
        return docs_anchor(self.code)


def docs_anchor(code: str) -> str:
    """Return the docs anchor for *code*, e.g. ``docs/checks.md#tsg101``."""
    return f"{DOCS_CHECKS_PAGE}#{code.lower()}"


def _c(
    code: str,
    name: str,
    title: str,
    category: Category,
    severity: Severity,
    why: str,
    fix: str,
    *,
    example: str = "",
    fixed: str = "",
) -> Check:
    kind: Literal["check", "lint"] = "lint" if int(code[-2:]) >= 50 else "check"
    return Check(code, name, title, category, severity, kind, why, fix, example, fixed)


_P, _F, _T = Category.PICKLING, Category.FORK_SAFETY, Category.THREAD_SAFETY
_D, _R, _C = Category.DUPLICATE_DATA, Category.RANDOMNESS, Category.COVERAGE
_S, _PF, _RS = Category.STRUCTURE, Category.PERFORMANCE, Category.RESOURCES
_H, _X = Category.HANG, Category.CRASH
_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

# The forked-RNG bug shows up as TSG501 (across workers) and TSG502 (across epochs):
# one example and one fix serve both entries, and the fix serves TSG503 (an RNG on the loader).
_GLOBAL_RNG_EXAMPLE = (
    "import numpy as np\n"
    "import keras\n"
    "\n"
    "class Augmented(keras.utils.PyDataset):\n"
    "    def __len__(self):\n"
    "        return 100\n"
    "\n"
    "    def __getitem__(self, i):\n"
    "        x, y = load(i)\n"
    "        return x + np.random.normal(size=x.shape), y  # same noise in every forked worker\n"
)
_RNG_FOR_FIXED = (
    "import keras\n"
    "import threadsafe_gen\n"
    "\n"
    "class Augmented(keras.utils.PyDataset):\n"
    "    epoch = 0\n"
    "\n"
    "    def on_epoch_end(self):\n"
    "        self.epoch += 1  # Keras starts the next epoch's workers after this\n"
    "\n"
    "    def __len__(self):\n"
    "        return 100\n"
    "\n"
    "    def __getitem__(self, i):\n"
    "        x, y = load(i)\n"
    "        rng = threadsafe_gen.rng_for(i, epoch=self.epoch)  # the same in every worker\n"
    "        return x + rng.normal(size=x.shape), y\n"
)

_CHECKS: tuple[Check, ...] = (
    # --- pickling ----------------------------------------------------------------------
    _c(
        "TSG101",
        "unpicklable-member",
        "A member of the loader cannot be pickled",
        _P,
        _E,
        "Workers started with 'spawn' (Windows, macOS) or 'forkserver' (Linux from Python "
        "3.14) receive the loader by pickling it; one unpicklable attribute stops training "
        "with a TypeError that does not say which attribute.",
        "Create the object lazily in each worker with threadsafe_gen.per_process (or "
        "per_thread), use threadsafe_gen.Lock and friends for locks, or drop it in "
        "__getstate__.",
        example=(
            "import threading\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "        self.lock = threading.Lock()  # spawn workers: cannot pickle '_thread.lock' object\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        with self.lock:\n"
            "            return self.data[i]\n"
        ),
        fixed=(
            "import threadsafe_gen as tsg\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "        self.lock = tsg.Lock()  # pickles to a fresh lock in each worker\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        with self.lock:\n"
            "            return self.data[i]\n"
        ),
    ),
    _c(
        "TSG102",
        "loader-not-importable",
        "Workers cannot import the loader's class or function",
        _P,
        _E,
        "A class or function defined inside another function, or in a script run without an "
        '`if __name__ == "__main__":` guard, cannot be found by name in a spawned worker.',
        "Define the class at module level in an importable module, and guard the training "
        'script with `if __name__ == "__main__":`.',
        example=(
            "def make_loader(data):\n"
            "    class Rows:  # defined inside a function: spawned workers cannot import it\n"
            "        def __len__(self):\n"
            "            return len(data)\n"
            "\n"
            "        def __getitem__(self, i):\n"
            "            return data[i]\n"
            "\n"
            "    return Rows()\n"
        ),
        fixed=(
            "class Rows:  # module level: importable by name in every worker\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return self.data[i]\n"
        ),
    ),
    _c(
        "TSG103",
        "large-pickled-payload",
        "The pickled loader is large and is copied into every worker",
        _PF,
        _W,
        "Under spawn/forkserver the whole pickled loader is sent to every worker, and Keras "
        "rebuilds its worker pool every epoch, so the copy is paid workers x epochs times.",
        "Keep big arrays out of the pickled state: threadsafe_gen.SharedArray, a numpy "
        "memmap, or a path opened lazily with per_process.",
        example=(
            "import numpy as np\n"
            "\n"
            "class Images:\n"
            "    def __init__(self):\n"
            "        self.x = np.zeros((20_000, 64, 64, 3), np.float32)  # 983 MB pickled per worker per epoch\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.x) // 32\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (self.x[i * 32:(i + 1) * 32],)\n"
        ),
        fixed=(
            "import numpy as np\n"
            "\n"
            "class Images:\n"
            "    def __init__(self, path):\n"
            "        self.path = path  # a .npy file; workers map it instead of receiving a copy\n"
            "\n"
            "    def __len__(self):\n"
            '        return len(np.load(self.path, mmap_mode="r")) // 32\n'
            "\n"
            "    def __getitem__(self, i):\n"
            '        x = np.load(self.path, mmap_mode="r")\n'
            "        return (np.array(x[i * 32:(i + 1) * 32]),)\n"
        ),
    ),
    _c(
        "TSG104",
        "fails-after-unpickling",
        "The loader pickles, but fails or changes in a spawned worker",
        _P,
        _E,
        "Spawn/forkserver workers train on the unpickled copy: a socket passed by file "
        "descriptor, state dropped in __getstate__ or rebuilt in __setstate__ makes the "
        "copy raise or serve other data, only once training has started.",
        "Make the unpickled loader equivalent: keep what __getitem__ needs in the pickled "
        "state, and reopen handles lazily per process with threadsafe_gen.per_process.",
        example=(
            "import numpy as np\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self, n):\n"
            "        self.n = n\n"
            "        self.table = {i: np.full((4, 2), i) for i in range(n)}\n"
            "\n"
            "    def __getstate__(self):\n"
            '        return {"n": self.n}  # the table is dropped: spawned workers raise AttributeError\n'
            "\n"
            "    def __len__(self):\n"
            "        return self.n\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return self.table[i]\n"
        ),
        fixed=(
            "import numpy as np\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self, n):\n"
            "        self.n = n\n"
            "        self.table = {i: np.full((4, 2), i) for i in range(n)}\n"
            "\n"
            "    def __getstate__(self):\n"
            '        return {"n": self.n}\n'
            "\n"
            "    def __setstate__(self, state):\n"
            '        self.__init__(state["n"])  # rebuilt identically in each worker\n'
            "\n"
            "    def __len__(self):\n"
            "        return self.n\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return self.table[i]\n"
        ),
    ),
    # --- fork-safety ---------------------------------------------------------------------
    _c(
        "TSG201",
        "shared-os-handle",
        "A connection, socket or open file would be shared with forked workers",
        _F,
        _W,
        "A forked worker inherits the parent's file descriptors: workers then share one file "
        "offset, one socket stream or one database session, which gives wrong rows, "
        "interleaved replies or protocol errors.",
        "Open the handle lazily per process with threadsafe_gen.per_process, keyed by pid.",
        example=(
            "import sqlite3\n"
            "import keras\n"
            "\n"
            "class Rows(keras.utils.PyDataset):\n"
            "    def __init__(self, path, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.conn = sqlite3.connect(path)  # inherited by every forked worker\n"
        ),
        fixed=(
            "import sqlite3\n"
            "import keras\n"
            "import threadsafe_gen\n"
            "\n"
            "def _connect(owner):\n"
            "    return sqlite3.connect(owner.path, check_same_thread=False)\n"
            "\n"
            "class Rows(keras.utils.PyDataset):\n"
            "    conn = threadsafe_gen.per_process(_connect)  # one connection per worker process\n"
            "\n"
            "    def __init__(self, path, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.path = path\n"
        ),
    ),
    _c(
        "TSG202",
        "lock-or-threads-at-fork",
        "Locks or live threads when workers fork",
        _F,
        _W,
        "fork copies a lock in whatever state it is in, but not the thread holding it: a "
        "lock held by another thread at fork time is held forever in the child and the "
        "worker hangs.",
        "Use threadsafe_gen.Lock/RLock (re-created in a forked child), stop background "
        "threads before training, or use the spawn/forkserver start method.",
        example=(
            "import threading\n"
            "import time\n"
            "import keras\n"
            "\n"
            "class Cached(keras.utils.PyDataset):\n"
            "    def __init__(self, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.lock = threading.Lock()\n"
            "        threading.Thread(target=self.refresh, daemon=True).start()\n"
            "\n"
            "    def refresh(self):\n"
            "        while True:\n"
            "            with self.lock:  # a worker forked right now waits for this lock forever\n"
            "                time.sleep(0.05)\n"
        ),
        fixed=(
            "import threading\n"
            "import time\n"
            "import keras\n"
            "import threadsafe_gen\n"
            "\n"
            "class Cached(keras.utils.PyDataset):\n"
            "    def __init__(self, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.lock = threadsafe_gen.Lock()  # re-created, unheld, in a forked worker\n"
            "        threading.Thread(target=self.refresh, daemon=True).start()\n"
            "\n"
            "    def refresh(self):\n"
            "        while True:\n"
            "            with self.lock:\n"
            "                time.sleep(0.05)\n"
        ),
    ),
    _c(
        "TSG203",
        "fails-in-forked-worker",
        "The loader works in the parent but fails in a forked worker",
        _F,
        _E,
        "Keras calls __getitem__(0) and (1) in the parent before it forks; a resource opened "
        "then is inherited by the workers, where it fails or is shared.",
        "Key lazily-opened resources on the process id: threadsafe_gen.per_process does.",
        example=(
            "import sqlite3\n"
            "import keras\n"
            "\n"
            "class Rows(keras.utils.PyDataset):\n"
            "    def __init__(self, path, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.path, self.conn = path, None\n"
            "\n"
            "    def __len__(self):\n"
            "        return 8  # batches in table t\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        if self.conn is None:  # opened by Keras' first calls, in the parent...\n"
            "            self.conn = sqlite3.connect(self.path)  # ...then inherited by forked workers\n"
            '        return self.conn.execute("SELECT x FROM t WHERE batch = ?", (i,)).fetchall()\n'
        ),
        fixed=(
            "import sqlite3\n"
            "import keras\n"
            "import threadsafe_gen\n"
            "\n"
            "def _connect(owner):\n"
            "    return sqlite3.connect(owner.path, check_same_thread=False)\n"
            "\n"
            "class Rows(keras.utils.PyDataset):\n"
            "    conn = threadsafe_gen.per_process(_connect)  # keyed by pid: reopened in each worker\n"
            "\n"
            "    def __init__(self, path, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.path = path\n"
            "\n"
            "    def __len__(self):\n"
            "        return 8  # batches in table t\n"
            "\n"
            "    def __getitem__(self, i):\n"
            '        return self.conn.execute("SELECT x FROM t WHERE batch = ?", (i,)).fetchall()\n'
        ),
    ),
    _c(
        "TSG204",
        "multithreaded-fork",
        "The process is multi-threaded when workers fork",
        _F,
        _I,
        "fork() of a multi-threaded process may deadlock in the child; Python 3.12+ warns "
        "about it with a DeprecationWarning that the default filters hide.",
        "Prefer use_multiprocessing=False (threads) or the forkserver/spawn start method, "
        "with a loader that passes the pickling checks.",
        example=(
            "# TensorFlow has started threads by the time fit() forks its workers\n"
            "model.fit(MyDataset(workers=4, use_multiprocessing=True))  # fork: Linux, Python <= 3.13\n"
        ),
        fixed=(
            "import multiprocessing\n"
            "\n"
            'multiprocessing.set_start_method("forkserver")  # or: use_multiprocessing=False (threads)\n'
            "model.fit(MyDataset(workers=4, use_multiprocessing=True))\n"
        ),
    ),
    # --- thread-safety -------------------------------------------------------------------
    _c(
        "TSG301",
        "results-differ-under-threads",
        "Results differ when workers run concurrently",
        _T,
        _E,
        "__getitem__(i) returned different data when called from several threads than in a "
        "sequential pass: it depends on shared state, so workers>1 trains on wrong or "
        "duplicated samples, silently.",
        "Make __getitem__ a pure function of its index: keep per-call state in local "
        "variables and per-thread handles in threadsafe_gen.per_thread.",
        example=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "        self.cursor = 0\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data) // 8\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        start = self.cursor  # ignores i: workers read the same cursor\n"
            "        self.cursor += 8\n"
            "        return (self.data[start:start + 8],)\n"
        ),
        fixed=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data) // 8\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (self.data[i * 8:(i + 1) * 8],)\n"
        ),
    ),
    _c(
        "TSG302",
        "error-only-under-threads",
        "An exception occurs only under concurrency",
        _T,
        _E,
        "The loader raised only when called from several threads at once, for example "
        "`ValueError: generator already executing`; training fails mid-epoch.",
        "Wrap shared iterators with threadsafe_gen.threadsafe_iter or decorate the "
        "generator function with @threadsafe_generator; make __getitem__ stateless.",
        example=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "        self.rows = iter(data)  # shared by worker threads\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (next(self.rows),)  # ValueError: generator already executing, or a race\n"
        ),
        fixed=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (self.data[i],)\n"
        ),
    ),
    _c(
        "TSG303",
        "getitem-mutates-loader",
        "__getitem__ changes the loader's attributes",
        _T,
        _W,
        "Each worker thread sees the other workers' changes, and each worker process keeps "
        "its own: results depend on scheduling.",
        "Compute per-call values in local variables; keep caches in threadsafe_gen.per_thread.",
        example=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "        self.last = None\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        self.last = self.data[i]  # state shared by threads, lost by processes\n"
            "        return (self.last,)\n"
        ),
        fixed=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        batch = self.data[i]\n"
            "        return (batch,)\n"
        ),
    ),
    _c(
        "TSG304",
        "results-share-memory",
        "Batches share memory with each other",
        _T,
        _E,
        "__getitem__ returns a view of a buffer that the next call overwrites; the queue "
        "then holds several references to the same array and training sees duplicates.",
        "Return a fresh array per call (np.empty inside __getitem__, or .copy()).",
        example=(
            "import numpy as np\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "        self.buf = np.empty((8,) + data.shape[1:], data.dtype)\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data) // 8\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        self.buf[:] = self.data[i * 8:(i + 1) * 8]\n"
            "        return (self.buf,)  # the next call overwrites this batch\n"
        ),
        fixed=(
            "import numpy as np\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data) // 8\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (np.array(self.data[i * 8:(i + 1) * 8]),)  # a fresh array per call\n"
        ),
    ),
    _c(
        "TSG305",
        "thread-bound-resource",
        "The loader fails when called from another thread",
        _T,
        _E,
        "Keras calls __getitem__ on a different thread than the one that built the loader, "
        "even with workers=1 (a tf.data thread); thread-bound objects such as sqlite3 "
        "connections then raise.",
        "Open the resource per thread with threadsafe_gen.per_thread (or per_process).",
        example=(
            "import sqlite3\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self, path):\n"
            "        self.db = sqlite3.connect(path)  # usable only on the thread that made it\n"
            "\n"
            "    def __len__(self):\n"
            '        return self.db.execute("select count(*) from t").fetchone()[0]\n'
            "\n"
            "    def __getitem__(self, i):\n"
            '        return (self.db.execute("select x from t where id = ?", (i,)).fetchall(),)\n'
        ),
        fixed=(
            "import sqlite3\n"
            "import threadsafe_gen as tsg\n"
            "\n"
            "def _connect():\n"
            '    return sqlite3.connect("data.db")\n'
            "\n"
            "class Rows:\n"
            "    db = tsg.per_thread(_connect)  # one connection per worker thread, made on first use\n"
            "\n"
            "    def __len__(self):\n"
            '        return self.db.execute("select count(*) from t").fetchone()[0]\n'
            "\n"
            "    def __getitem__(self, i):\n"
            '        return (self.db.execute("select x from t where id = ?", (i,)).fetchall(),)\n'
        ),
    ),
    _c(
        "TSG306",
        "unsafe-iterator",
        "An iterator without a lock is used with worker threads",
        _T,
        _E,
        "Two threads calling next() on one generator raise `ValueError: generator already "
        "executing`; on a plain iterator class they race silently.",
        "Wrap it with threadsafe_gen.threadsafe_iter or decorate the generator function "
        "with @threadsafe_generator.",
        example=(
            "def batches():\n"
            "    for i in range(100):\n"
            "        yield load(i)\n"
            "\n"
            "it = batches()  # shared by 4 worker threads: ValueError: generator already executing\n"
        ),
        fixed=(
            "import threadsafe_gen as tsg\n"
            "\n"
            "@tsg.threadsafe_generator\n"
            "def batches():\n"
            "    for i in range(100):\n"
            "        yield load(i)\n"
            "\n"
            "it = batches()  # next() is serialised by a lock\n"
        ),
    ),
    # --- duplicate-data ------------------------------------------------------------------
    _c(
        "TSG401",
        "duplicate-samples",
        "Identical samples within an epoch",
        _D,
        _W,
        "The same sample row was served more than once in one pass over the loader; the "
        "model trains on duplicates and misses other samples.",
        "Check that __getitem__(i) depends only on i and that each index maps to distinct rows.",
        example=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data) // 8\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        start = (i * 8) % 32  # wraps after 4 batches: samples repeat, others are never used\n"
            "        return (self.data[start:start + 8],)\n"
        ),
        fixed=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data) // 8\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (self.data[i * 8:(i + 1) * 8],)\n"
        ),
    ),
    _c(
        "TSG402",
        "generator-copied-per-process",
        "A generator would be copied into every worker process",
        _D,
        _E,
        "tf_keras fit(generator, workers=N, use_multiprocessing=True) runs a copy of the "
        "generator in each process: every item arrives up to N times, with no warning.",
        "Use a Sequence/PyDataset, or shard the generator with threadsafe_gen.keras adapters.",
        example=(
            "def batches():\n"
            "    while True:\n"
            "        yield next_batch()\n"
            "\n"
            "# tf_keras: each of the 4 processes runs its own copy of batches()\n"
            "model.fit(batches(), steps_per_epoch=100, workers=4, use_multiprocessing=True)\n"
        ),
        fixed=(
            "import threadsafe_gen.keras\n"
            "\n"
            "# one source shared by 4 worker threads: every batch arrives once\n"
            "ds = threadsafe_gen.keras.GeneratorDataset(batches, workers=4, batches=100, truncate=True)\n"
            "model.fit(ds, epochs=10)\n"
        ),
    ),
    # --- randomness ----------------------------------------------------------------------
    _c(
        "TSG501",
        "same-random-across-workers",
        "Forked workers produce the same 'random' output",
        _R,
        _E,
        "numpy's global RNG (and RNG objects on the loader) are copied into every forked "
        "worker, so the workers replay the same augmentation stream.",
        "Draw randomness from threadsafe_gen.rng_for(index, epoch=epoch), or reseed per "
        "worker with threadsafe_gen.keras.guard.",
        example=_GLOBAL_RNG_EXAMPLE,
        fixed=_RNG_FOR_FIXED,
    ),
    _c(
        "TSG502",
        "same-random-across-epochs",
        "The same 'random' output in every epoch",
        _R,
        _W,
        "Keras forks a new worker pool every epoch from an unchanged parent, so forked "
        "workers repeat last epoch's augmentations.",
        "Key randomness on the epoch: threadsafe_gen.rng_for(index, epoch=epoch).",
        example=_GLOBAL_RNG_EXAMPLE,
        fixed=_RNG_FOR_FIXED,
    ),
    _c(
        "TSG503",
        "rng-on-loader",
        "An RNG object is stored on the loader",
        _R,
        _W,
        "Pickling or forking copies the RNG with its state into every worker, so the "
        "workers draw identical numbers (measured: 16 of 64 values distinct with 4 workers).",
        "Use threadsafe_gen.rng_for(index, epoch=...) inside __getitem__ instead.",
        example=(
            "import numpy as np\n"
            "import keras\n"
            "\n"
            "class Augmented(keras.utils.PyDataset):\n"
            "    def __init__(self, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.rng = np.random.default_rng(0)  # copied, with its state, into every worker\n"
            "\n"
            "    def __len__(self):\n"
            "        return 100\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        x, y = load(i)\n"
            "        return x + self.rng.normal(size=x.shape), y\n"
        ),
        fixed=_RNG_FOR_FIXED,
    ),
    # --- coverage and structure ------------------------------------------------------------
    _c(
        "TSG601",
        "len-mismatch",
        "__len__ disagrees with what __getitem__ serves",
        _C,
        _E,
        "Keras asks for exactly len(loader) batches; an IndexError inside that range stops "
        "training, and indices served beyond it are never trained on.",
        "Return ceil(n_samples / batch_size) from __len__ and serve every index below it.",
        example=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data) // 8 + 1  # one too many when 8 divides len(data)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        if i * 8 >= len(self.data):\n"
            "            raise IndexError(i)\n"
            "        return (self.data[i * 8:(i + 1) * 8],)\n"
        ),
        fixed=(
            "import math\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return math.ceil(len(self.data) / 8)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (self.data[i * 8:(i + 1) * 8],)\n"
        ),
    ),
    _c(
        "TSG602",
        "empty-batch",
        "A batch is empty",
        _C,
        _W,
        "An empty batch usually means the last-batch arithmetic is off; Keras fails on it "
        "or trains on nothing.",
        "Compute the last batch as samples[i * bs:(i + 1) * bs] and size __len__ with ceil.",
        example=(
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.data) // 8 + 1  # the last slice is empty when 8 divides len(data)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (self.data[i * 8:(i + 1) * 8],)\n"
        ),
        fixed=(
            "import math\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self, data):\n"
            "        self.data = data\n"
            "\n"
            "    def __len__(self):\n"
            "        return math.ceil(len(self.data) / 8)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (self.data[i * 8:(i + 1) * 8],)\n"
        ),
    ),
    _c(
        "TSG603",
        "finite-generator-epochs",
        "A finite generator will not restart between epochs",
        _C,
        _W,
        "Keras 3 fit(generator) replays only its 2 peeked batches in later epochs, and "
        "tf_keras stops with 'ran out of data'.",
        "Pass the generator function to threadsafe_gen.keras.GeneratorDataset, which "
        "re-creates it each epoch.",
        example=(
            "def batches():\n"
            "    for i in range(8):\n"
            "        yield load(i)\n"
            "\n"
            "model.fit(batches(), epochs=3)  # epochs 2 and 3 replay only the 2 peeked batches\n"
        ),
        fixed=(
            "import threadsafe_gen as tsg\n"
            "from threadsafe_gen.keras import GeneratorDataset\n"
            "\n"
            "@tsg.threadsafe_generator\n"
            "def batches():\n"
            "    for i in range(8):\n"
            "        yield load(i)\n"
            "\n"
            "model.fit(GeneratorDataset(batches()), epochs=3)  # re-created every epoch\n"
        ),
    ),
    _c(
        "TSG621",
        "structure-changes",
        "Batch structure changes between batches",
        _S,
        _E,
        "Keras fixes the output signature from the first batches; a batch with other keys, "
        "tuple length or nesting fails mid-epoch.",
        "Return the same structure from every call.",
        example=(
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 10\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        x, y = load(i)\n"
            "        if y is None:\n"
            "            return (x,)  # other batches are (x, y)\n"
            "        return x, y\n"
        ),
        fixed=(
            "import numpy as np\n"
            "\n"
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 10\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        x, y = load(i)\n"
            "        if y is None:  # unlabelled: a placeholder label with weight 0\n"
            "            return x, np.zeros(len(x)), np.zeros(len(x))\n"
            "        return x, y, np.ones(len(x))  # (x, y, weights) every time\n"
        ),
    ),
    _c(
        "TSG622",
        "dtype-changes",
        "Batch dtype changes between batches",
        _S,
        _E,
        "The dtype is fixed from the first batches; another dtype later fails or silently casts.",
        "Cast explicitly (np.asarray(x, dtype=np.float32)).",
        example=(
            "import numpy as np\n"
            "\n"
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 10\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (np.array(load(i)),)  # float64 for some batches, int64 for others\n"
        ),
        fixed=(
            "import numpy as np\n"
            "\n"
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 10\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (np.asarray(load(i), dtype=np.float32),)\n"
        ),
    ),
    _c(
        "TSG623",
        "shape-changes",
        "Batch rank or feature shape changes between batches",
        _S,
        _E,
        "Only the first (batch) dimension may vary; other changes fail mid-epoch.",
        "Pad or resize to a fixed shape.",
        example=(
            "import numpy as np\n"
            "\n"
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 10\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (np.stack(load_images(i)),)  # images of different sizes per batch\n"
        ),
        fixed=(
            "import numpy as np\n"
            "\n"
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 10\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (np.stack([resize(im, (64, 64)) for im in load_images(i)]),)\n"
        ),
    ),
    _c(
        "TSG624",
        "invalid-batch",
        "A batch is not what Keras accepts",
        _S,
        _E,
        "Keras expects (x,), (x, y), (x, y, sample_weight) or a dict, with equal first dimensions.",
        "Return a tuple of arrays with the same number of rows.",
        example=(
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 10\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        x, y = load(i)\n"
            "        return x, y[:-1]  # 8 inputs, 7 labels\n"
        ),
        fixed=(
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 10\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        x, y = load(i)\n"
            "        return x, y  # one label per input\n"
        ),
    ),
    # --- performance and resources ---------------------------------------------------------
    _c(
        "TSG701",
        "serialised-getitem",
        "Worker threads run one at a time",
        _PF,
        _W,
        "A lock held around the whole of __getitem__ serialises the workers: workers=4 is "
        "as slow as workers=1.",
        "Hold a lock only around the shared part, or make __getitem__ lock-free with "
        "per_thread resources and threadsafe_gen.keras.guard.",
        example=(
            "import threading\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self):\n"
            "        self.lock = threading.Lock()\n"
            "\n"
            "    def __len__(self):\n"
            "        return 100\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        with self.lock:  # 4 worker threads take turns\n"
            "            return (read_from_disk(i),)\n"
        ),
        fixed=(
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 100\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (read_from_disk(i),)  # lock-free: threads overlap the I/O\n"
        ),
    ),
    _c(
        "TSG702",
        "pool-start-cost",
        "Worker processes are expensive to start every epoch",
        _PF,
        _I,
        "Keras 3 rebuilds its process pool every epoch; under spawn/forkserver each start "
        "imports TensorFlow again and unpickles the loader (measured 3.5-7 s per epoch).",
        "Use threads when __getitem__ releases the GIL. For a generator, "
        "threadsafe_gen.keras.GeneratorDataset(processes=True) starts its worker processes "
        "once per fit; threadsafe_gen.keras.legacy_fit_input(..., use_multiprocessing=True) "
        "starts workers that import only the loader's own module (keep it free of TensorFlow "
        "imports: about a second per epoch instead of several).",
        example=(
            "# spawn (macOS, Windows) or forkserver (Linux, Python >= 3.14): 8 workers start,\n"
            "# import TensorFlow and unpickle the loader again in every epoch\n"
            "model.fit(MyDataset(workers=8, use_multiprocessing=True), epochs=100)\n"
        ),
        fixed=(
            "# __getitem__ spends its time in numpy, I/O or TensorFlow ops (the GIL is released):\n"
            "model.fit(MyDataset(workers=8, use_multiprocessing=False), epochs=100)\n"
        ),
    ),
    _c(
        "TSG703",
        "tf-keras-epoch-stall",
        "tf_keras stalls 5 s at the end of every epoch",
        _PF,
        _I,
        "tf_keras' OrderedEnqueuer waits up to 5 s for a queue at each epoch boundary.",
        "Use Keras 3 PyDataset, or threadsafe_gen.keras.legacy_fit_input.",
    ),
    _c(
        "TSG721",
        "fd-growth",
        "Open file descriptors grow with every batch",
        _RS,
        _E,
        "A connection or file opened per call and never closed exhausts the process's "
        "descriptors mid-training ('Too many open files').",
        "Open once per worker with threadsafe_gen.per_process / per_thread.",
        example=(
            "import sqlite3\n"
            "\n"
            "class Rows:\n"
            "    def __init__(self):\n"
            "        self.conns = []\n"
            "\n"
            "    def __len__(self):\n"
            "        return 100\n"
            "\n"
            "    def __getitem__(self, i):\n"
            '        conn = sqlite3.connect("data.db", check_same_thread=False)\n'
            "        self.conns.append(conn)  # one more open file per batch\n"
            '        return (conn.execute("select x from t where id = ?", (i,)).fetchall(),)\n'
        ),
        fixed=(
            "import sqlite3\n"
            "import threadsafe_gen as tsg\n"
            "\n"
            "def _connect():\n"
            '    return sqlite3.connect("data.db")\n'
            "\n"
            "class Rows:\n"
            "    db = tsg.per_thread(_connect)\n"
            "\n"
            "    def __len__(self):\n"
            "        return 100\n"
            "\n"
            "    def __getitem__(self, i):\n"
            '        return (self.db.execute("select x from t where id = ?", (i,)).fetchall(),)\n'
        ),
    ),
    _c(
        "TSG722",
        "thread-growth",
        "Threads grow with every batch",
        _RS,
        _E,
        "Each call starts a thread (or a client that owns one) and never stops it.",
        "Create the client once per worker with threadsafe_gen.per_process.",
        example=(
            "class Rows:\n"
            "    def __len__(self):\n"
            "        return 100\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        client = make_client()  # each client starts a background thread, never closed\n"
            "        return (client.fetch(i),)\n"
        ),
        fixed=(
            "import threadsafe_gen as tsg\n"
            "\n"
            "class Rows:\n"
            "    client = tsg.per_process(make_client)  # one client per worker process\n"
            "\n"
            "    def __len__(self):\n"
            "        return 100\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (self.client.fetch(i),)\n"
        ),
    ),
    # --- hang and crash ----------------------------------------------------------------------
    _c(
        "TSG801",
        "batch-timeout",
        "A batch did not return within the time limit",
        _H,
        _E,
        "Keras has no per-batch timeout: one call that never returns hangs fit() forever.",
        "Find what the call waits for (a lock held at fork, a socket without timeout).",
        example=(
            "import socket\n"
            "import keras\n"
            "\n"
            "class Remote(keras.utils.PyDataset):\n"
            "    def __getitem__(self, i):\n"
            '        with socket.create_connection(("feature-store", 7000)) as s:\n'
            '            s.sendall(b"%d\\n" % i)\n'
            "            return decode(s.recv(1 << 20))  # no timeout: waits forever if the server stalls\n"
        ),
        fixed=(
            "import socket\n"
            "import keras\n"
            "\n"
            "class Remote(keras.utils.PyDataset):\n"
            "    def __getitem__(self, i):\n"
            '        with socket.create_connection(("feature-store", 7000), timeout=10) as s:\n'
            '            s.sendall(b"%d\\n" % i)\n'
            "            return decode(s.recv(1 << 20))  # raises TimeoutError instead of hanging\n"
        ),
    ),
    _c(
        "TSG802",
        "check-budget-exhausted",
        "The check ran out of time before all probes ran",
        _H,
        _W,
        "Some probes were skipped, so the report is incomplete.",
        "Raise timeout= or lower max_batches=.",
        example=(
            "import threadsafe_gen as tsg\n"
            "\n"
            "report = tsg.check_loader(big_loader, timeout=5)  # too short for 64 slow batches\n"
        ),
        fixed=(
            "import threadsafe_gen as tsg\n"
            "\n"
            "report = tsg.check_loader(big_loader, timeout=120, max_batches=16)\n"
        ),
    ),
    _c(
        "TSG821",
        "worker-died",
        "A worker process died",
        _X,
        _E,
        "multiprocessing.Pool replaces a dead worker silently and Keras waits for its batch "
        "forever.",
        "Look for os._exit, sys.exit, segfaults in native code, or the OOM killer.",
        example=(
            "import os\n"
            "import keras\n"
            "\n"
            "class Rows(keras.utils.PyDataset):\n"
            "    def __getitem__(self, i):\n"
            "        if i >= len(self.index):\n"
            "            os._exit(1)  # kills the worker; Keras waits for its batch forever\n"
            "        return load(self.index[i])\n"
        ),
        fixed=(
            "import keras\n"
            "\n"
            "class Rows(keras.utils.PyDataset):\n"
            "    def __getitem__(self, i):\n"
            "        if i >= len(self.index):\n"
            "            raise IndexError(i)  # reaches fit() with a traceback\n"
            "        return load(self.index[i])\n"
        ),
    ),
    _c(
        "TSG822",
        "loader-raised",
        "The loader raised an exception",
        _X,
        _E,
        "The exception stops fit() when Keras reaches that index.",
        "Fix the exception; the traceback is in the finding's details.",
        example=(
            "class Rows:\n"
            "    def __init__(self, paths):\n"
            "        self.paths = paths\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.paths)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (decode(self.paths[i]),)  # raises on a corrupt file\n"
        ),
        fixed=(
            "class Rows:\n"
            "    def __init__(self, paths):\n"
            "        self.paths = [p for p in paths if is_valid(p)]  # filtered once, up front\n"
            "\n"
            "    def __len__(self):\n"
            "        return len(self.paths)\n"
            "\n"
            "    def __getitem__(self, i):\n"
            "        return (decode(self.paths[i]),)\n"
        ),
    ),
    # --- static rules (threadsafe-gen lint) ---------------------------------------------------
    _c(
        "TSG151",
        "unpicklable-attribute-in-init",
        "A lock, generator or lambda is stored on self",
        _P,
        _E,
        "Stored in __init__ of a Sequence/PyDataset, it makes the loader unpicklable for "
        "spawn/forkserver workers.",
        "Use threadsafe_gen.Lock, create iterators per call, and use def functions.",
        example=(
            "import threading\n"
            "import keras\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    def __init__(self, x, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.x = x\n"
            "        self.lock = threading.Lock()  # cannot be pickled\n"
        ),
        fixed=(
            "import keras\n"
            "import threadsafe_gen\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    def __init__(self, x, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.x = x\n"
            "        self.lock = threadsafe_gen.Lock()  # pickles; re-created in each worker\n"
        ),
    ),
    _c(
        "TSG251",
        "handle-attribute-in-init",
        "A connection, socket or open file is stored on self",
        _F,
        _W,
        "Forked workers share it; spawned workers cannot receive it.",
        "Use threadsafe_gen.per_process(factory) as a class attribute.",
        example=(
            "import sqlite3\n"
            "import keras\n"
            "\n"
            "class Rows(keras.utils.PyDataset):\n"
            "    def __init__(self, path, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.conn = sqlite3.connect(path)  # shared by forked workers\n"
        ),
        fixed=(
            "import sqlite3\n"
            "import keras\n"
            "import threadsafe_gen\n"
            "\n"
            "class Rows(keras.utils.PyDataset):\n"
            "    # One connection per worker thread, opened on first use, never pickled.\n"
            "    conn = threadsafe_gen.per_thread(lambda self: sqlite3.connect(self.path))\n"
            "\n"
            "    def __init__(self, path, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.path = path\n"
        ),
    ),
    _c(
        "TSG351",
        "next-without-lock",
        "An iterator's __next__ does not hold the lock it owns",
        _T,
        _E,
        "The popular threadsafe_iter recipe with the `with self.lock:` forgotten is not "
        "thread-safe at all.",
        "Hold the lock in __next__, or use threadsafe_gen.threadsafe_iter.",
        example=(
            "import threading\n"
            "\n"
            "class threadsafe_iter:\n"
            "    def __init__(self, it):\n"
            "        self.it = it\n"
            "        self.lock = threading.Lock()\n"
            "\n"
            "    def __iter__(self):\n"
            "        return self\n"
            "\n"
            "    def __next__(self):\n"
            "        return next(self.it)  # the lock is never taken\n"
        ),
        fixed=(
            "import threadsafe_gen\n"
            "\n"
            "def batches():\n"
            "    yield from range(10)\n"
            "\n"
            "it = threadsafe_gen.threadsafe_iter(batches())  # next() under a lock\n"
        ),
    ),
    _c(
        "TSG352",
        "getitem-assigns-self",
        "__getitem__ assigns to self",
        _T,
        _W,
        "Worker threads race on the attribute, and worker processes never see each "
        "other's changes.",
        "Use local variables; cache per worker with per_thread/per_process.",
        example=(
            "import keras\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    def __getitem__(self, idx):\n"
            "        self.last = self.x[idx]  # shared by all worker threads\n"
            "        return self.last\n"
        ),
        fixed=(
            "import keras\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    def __getitem__(self, idx):\n"
            "        batch = self.x[idx]  # a local variable\n"
            "        return batch\n"
        ),
    ),
    _c(
        "TSG353",
        "getitem-ignores-index",
        "__getitem__ ignores its index argument",
        _T,
        _E,
        "A loader that does not read its index serves whatever its cursor points at: with "
        "workers>1 batches are duplicated and skipped.",
        "Compute the batch from the index.",
        example=(
            "import keras\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    def __getitem__(self, idx):\n"
            "        batch = self.x[self.cursor : self.cursor + 8]  # idx is never read\n"
            "        self.cursor += 8\n"
            "        return batch\n"
        ),
        fixed=(
            "import keras\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    def __getitem__(self, idx):\n"
            "        return self.x[idx * 8 : (idx + 1) * 8]\n"
        ),
    ),
    _c(
        "TSG451",
        "generator-to-fit-with-workers",
        "A generator is passed to fit() with workers>1 or processes",
        _D,
        _E,
        "tf_keras copies the generator into every process (duplicates) or shares it "
        "between threads (needs a lock); Keras 3 rejects these arguments.",
        "Keras 3: fit(threadsafe_gen.keras.GeneratorDataset(gen_fn, workers=N)). tf_keras: "
        "fit(threadsafe_gen.keras.legacy_fit_input(gen_fn, workers=N)) without workers=. Or "
        "use a PyDataset/Sequence.",
        example=(
            "def batches():\n"
            "    while True:\n"
            "        yield next_batch()\n"
            "\n"
            "model.fit(batches(), steps_per_epoch=100, workers=4, use_multiprocessing=True)\n"
        ),
        fixed=(
            "from threadsafe_gen.keras import GeneratorDataset\n"
            "\n"
            "def batches():  # a generator function, re-created per worker and epoch\n"
            "    yield from load_batches()\n"
            "\n"
            "model.fit(GeneratorDataset(batches, workers=4), epochs=3)\n"
        ),
    ),
    _c(
        "TSG551",
        "global-rng-in-getitem",
        "Global or shared RNG used inside __getitem__ or a generator",
        _R,
        _W,
        "Forked workers inherit numpy's global RNG state, and an RNG stored on the loader is "
        "copied with its state into every worker: the workers replay the same numbers.",
        "Use threadsafe_gen.rng_for(index, epoch=...).",
        example=(
            "import numpy as np\n"
            "import keras\n"
            "\n"
            "class Augment(keras.utils.PyDataset):\n"
            "    def __getitem__(self, idx):\n"
            "        noise = np.random.normal(size=(8, 4))  # same stream in every forked worker\n"
            "        return self.x[idx] + noise\n"
        ),
        fixed=(
            "import keras\n"
            "import threadsafe_gen\n"
            "\n"
            "class Augment(keras.utils.PyDataset):\n"
            "    def __getitem__(self, idx):\n"
            "        rng = threadsafe_gen.rng_for(idx, epoch=self.epoch)\n"
            "        return self.x[idx] + rng.normal(size=(8, 4))\n"
        ),
    ),
    _c(
        "TSG651",
        "pydataset-no-super-init",
        "PyDataset subclass does not call super().__init__(**kwargs)",
        _S,
        _W,
        "workers, use_multiprocessing and max_queue_size are then ignored and the loader "
        "runs with one worker.",
        "Accept **kwargs and call super().__init__(**kwargs).",
        example=(
            "import keras\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    def __init__(self, x):\n"
            "        self.x = x  # workers=... is now ignored\n"
        ),
        fixed=(
            "import keras\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    def __init__(self, x, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.x = x\n"
        ),
    ),
    _c(
        "TSG652",
        "deprecated-generator-api",
        "Deprecated fit_generator/evaluate_generator/predict_generator",
        _S,
        _W,
        "These were removed in Keras 3 and deprecated in tf_keras.",
        "Call fit()/evaluate()/predict() with a PyDataset.",
        example=("model.fit_generator(gen(), steps_per_epoch=100, epochs=3)\n"),
        fixed=("model.fit(Loader(x, y, batch_size=32), epochs=3)  # a keras.utils.PyDataset\n"),
    ),
    _c(
        "TSG653",
        "unused-suppression",
        "A `# threadsafe-gen: ignore` comment suppresses nothing",
        _S,
        _W,
        "A stale suppression hides the next real finding on that line, and an unknown code "
        "in it is usually a typo.",
        "Delete the comment, or correct the code in it. Reported with --report-unused-ignores.",
        example=("def load(i):\n    return i * 2  # threadsafe-gen: ignore[TSG351]\n"),
        fixed=("def load(i):\n    return i * 2\n"),
    ),
    _c(
        "TSG751",
        "lock-around-getitem",
        "A lock is held around the whole __getitem__",
        _PF,
        _W,
        "Serialises all worker threads: workers>1 gives no speed-up.",
        "Lock only the shared part, or make __getitem__ lock-free.",
        example=(
            "import keras\n"
            "import threadsafe_gen\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    lock = threadsafe_gen.Lock()\n"
            "\n"
            "    def __getitem__(self, idx):\n"
            "        with self.lock:  # one worker at a time\n"
            "            return load(self.files[idx])\n"
        ),
        fixed=(
            "import keras\n"
            "import threadsafe_gen\n"
            "\n"
            "class Loader(keras.utils.PyDataset):\n"
            "    reader = threadsafe_gen.per_thread(open_reader)  # one reader per worker\n"
            "\n"
            "    def __getitem__(self, idx):\n"
            "        return self.reader.load(self.files[idx])\n"
        ),
    ),
    _c(
        "TSG851",
        "processes-without-main-guard",
        "Process workers started without a __main__ guard",
        _H,
        _E,
        "Under spawn/forkserver each worker re-runs the script, which starts workers again; "
        "fit() hangs (measured: 66 worker processes, killed after 90 s).",
        'Put the training code under `if __name__ == "__main__":`.',
        example=(
            "import keras\n"
            "\n"
            "model = build_model()\n"
            "model.fit(Loader(x, workers=4, use_multiprocessing=True), epochs=3)\n"
        ),
        fixed=(
            "import keras\n"
            "\n"
            "def main():\n"
            "    model = build_model()\n"
            "    model.fit(Loader(x, workers=4, use_multiprocessing=True), epochs=3)\n"
            "\n"
            'if __name__ == "__main__":\n'
            "    main()\n"
        ),
    ),
    _c(
        "TSG852",
        "syntax-error",
        "A file could not be parsed, so it was not linted",
        _X,
        _E,
        "The linter reads files with Python's own parser; a file it cannot parse is not "
        "checked at all, and Python will not import it either.",
        "Fix the syntax error at the reported line, or exclude the file (exclude= in "
        "[tool.threadsafe_gen]).",
        example="def load(i)\n    return i\n",
        fixed="def load(i):\n    return i\n",
    ),
)

#: Every code, in order. The one place codes, titles, categories and severities live.
REGISTRY: Mapping[str, Check] = {c.code: c for c in _CHECKS}
if len(REGISTRY) != len(_CHECKS):  # pragma: no cover - a duplicated code is a programming error
    _msg = "duplicate code in threadsafe_gen._findings._CHECKS"
    raise RuntimeError(_msg)


@dataclasses.dataclass(frozen=True)
class Location:
    """A place in a source file (1-based line, 1-based column), for static findings."""

    file: str
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem found by ``check_loader()`` or the linter.

    Attributes:
        code: stable code such as ``"TSG101"``; the key for suppression and docs.
        category: one of :class:`Category`.
        severity: ``error``, ``warning`` or ``info``.
        path: where in the loader (``loader.conn``, ``loader.cfg['aug'].lock``), or the
            qualified name of the code for static findings.
        message: what happened, with numbers, and why it matters; ends with the code and
            its docs anchor.
        hint: how to fix it.
        location: file position for static findings, else ``None``.
        details: extra machine-readable data (indices, counts, traceback text).
    """

    code: str
    category: Category
    severity: Severity
    path: str
    message: str
    hint: str
    location: Location | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def check(self) -> Check:
        """The registry entry of this finding's code."""
        return REGISTRY[self.code]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (enums as their string values)."""
        return {
            "code": self.code,
            "category": self.category.value,
            "severity": self.severity.value,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
            "location": dataclasses.asdict(self.location) if self.location else None,
            "details": _jsonable(self.details),
        }

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.code} [{self.severity}] {self.path}: {self.message}\n    fix: {self.hint}"


def make_finding(
    code: str,
    *,
    path: str,
    message: str,
    hint: str | None = None,
    severity: Severity | str | None = None,
    location: Location | None = None,
    details: Mapping[str, Any] | None = None,
) -> Finding:
    """Build a :class:`Finding` for a registered *code*.

    The category comes from the registry; the severity defaults to the registry's; the
    hint defaults to the registry's fix; the message gets ``(CODE, see <anchor>)``
    appended so every message names its code and docs entry.
    """
    check = REGISTRY.get(code)
    if check is None:
        msg = f"unknown finding code {code!r}; registered codes are in threadsafe_gen._findings.REGISTRY"
        raise KeyError(msg)
    sev = check.severity if severity is None else Severity(severity)
    text = message.rstrip()
    if not text.endswith((".", "!", "?", ")")):
        text += "."
    text = f"{text} ({code}, see {check.anchor})"
    return Finding(
        code=code,
        category=check.category,
        severity=sev,
        path=path,
        message=text,
        hint=hint if hint is not None else check.fix,
        location=location,
        details=dict(details or {}),
    )


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """How one probe of ``check_loader()`` went: its name, status and time taken."""

    name: str
    status: Literal["ran", "skipped", "timeout", "failed"]
    seconds: float
    note: str = ""


@dataclasses.dataclass
class LoaderReport:
    """What ``check_loader()`` found.

    Attributes:
        findings: every finding, most severe first.
        probes: one :class:`ProbeResult` per probe, with timing.
        settings: the workers, use_multiprocessing, start_method, python version and
            so on that the check assumed.
        loader: a short description of the loader checked.
        notes: why a step of the check was skipped or cut short (for example "fork is not
            available on this platform"), so a clean report says what it did not cover.
    """

    findings: list[Finding]
    probes: list[ProbeResult] = dataclasses.field(default_factory=list)
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    loader: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.findings = sort_findings(self.findings)

    @property
    def ok(self) -> bool:
        """True when no finding has error severity."""
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        """Findings with error severity."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Findings with warning severity."""
        return [f for f in self.findings if f.severity is Severity.WARNING]

    def codes(self) -> set[str]:
        """The set of codes found (handy in tests: ``"TSG101" in report.codes()``)."""
        return {f.code for f in self.findings}

    def raise_for_errors(self) -> None:
        """Raise :class:`~threadsafe_gen.errors.LoaderCheckError` if any finding is an error.

        The exception is also an ``AssertionError``, so in pytest
        ``check_loader(ds, workers=4).raise_for_errors()`` is a whole test, and its failure
        message is this report.
        """
        __tracebackhide__ = True  # pytest hides this frame
        if not self.ok:
            raise LoaderCheckError(str(self), self)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of the whole report."""
        return {
            "loader": self.loader,
            "ok": self.ok,
            "settings": _jsonable(self.settings),
            "findings": [f.to_dict() for f in self.findings],
            "probes": [dataclasses.asdict(p) for p in self.probes],
            "notes": list(self.notes),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        return render_text(self)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by code and path (a stable, readable order)."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.code, f.path))


def summary_line(findings: Sequence[Finding]) -> str:
    """``"2 errors, 1 warning, 0 info"``."""
    n = {s: sum(1 for f in findings if f.severity is s) for s in Severity}

    def plural(k: int, word: str) -> str:
        return f"{k} {word}" + ("" if k == 1 or word == "info" else "s")

    return ", ".join(
        (
            plural(n[Severity.ERROR], "error"),
            plural(n[Severity.WARNING], "warning"),
            plural(n[Severity.INFO], "info"),
        )
    )


def render_text(report: LoaderReport) -> str:
    """Render a report for people: settings, findings, probe timings, summary last."""
    lines: list[str] = []
    head = f"threadsafe_gen check of {report.loader}" if report.loader else "threadsafe_gen check"
    lines.append(head)
    if report.settings:
        shown = ", ".join(f"{k}={v}" for k, v in report.settings.items())
        lines.append(f"  settings: {shown}")
    lines.append("")
    if not report.findings:
        lines.append("No problems found.")
    for f in report.findings:
        lines.append(f"{f.code} [{f.severity}] {f.category}: {f.path}")
        lines.append(f"    {f.message}")
        lines.append(f"    fix: {f.hint}")
    if report.probes:
        lines.append("")
        timing = ", ".join(
            f"{p.name} {p.seconds:.2f}s" + ("" if p.status == "ran" else f" ({p.status})")
            for p in report.probes
        )
        lines.append(f"  probes: {timing}")
    if report.notes:
        lines.append("  notes:")
        lines.extend(f"    - {note}" for note in report.notes)
    lines.append("")
    verdict = "OK" if report.ok else "FAILED"
    lines.append(f"{verdict}: {summary_line(report.findings)}")
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    """Best-effort conversion of details to JSON types (repr for anything exotic)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return repr(value)
