"""The static linter behind ``threadsafe-gen lint``: ``ast`` only, never imports user code.

Each rule maps to one registered ``TSGx5y`` code in :data:`threadsafe_gen._findings.REGISTRY`.
Names are resolved through each module's imports (``from keras.utils import Sequence as S``,
``import tensorflow as tf; tf.keras.utils.Sequence``, ``tf_keras.utils.Sequence``), and class
hierarchies are followed across the files linted together, so a subclass of a project's own
base dataset in another file is still a dataset. Jupyter notebooks are linted as the module
their code cells form, with findings mapped back to (cell, line).

# NOTE [ Conditional findings ]
# Whether a class is a data loader can depend on a base class defined in another file. Each
# file is analysed once (possibly in a worker process) and records findings per class under
# a condition ("if this class is an index loader", "if it is a Keras 3 PyDataset"). After all
# files are read, the class index decides which conditions hold. This keeps one parse per
# file and lets the per-file work run in parallel.
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
import fnmatch
import io
import json
import os
import re
import time
import tokenize
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

from ._findings import REGISTRY, Category, Finding, Location, Severity, make_finding

__all__ = ["LintResult", "Suppression", "lint_paths", "lint_source", "select_codes"]

#: Directory names never entered while expanding a folder (explicit paths are always linted).
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    "node_modules",
    "build",
    "dist",
    "site-packages",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)

_SUPPRESS_RE = re.compile(r"#\s*threadsafe-gen\s*:\s*ignore\b(?:\[([^\]]*)\])?", re.IGNORECASE)

# Libraries whose ``Sequence``/``PyDataset`` classes are index loaders. Resolved names are
# compared on their root package and their last component, so every import spelling
# (``keras.utils.Sequence``, ``keras.src.utils...``, ``tensorflow.keras.utils.Sequence``,
# ``tf_keras.utils.data_utils.Sequence``) is recognised without listing each path.
_KERAS_ROOTS = frozenset({"keras", "tensorflow", "tf_keras"})
_LOADER_BASE_NAMES = frozenset({"Sequence", "PyDataset"})

_THREAD_LOCKS = frozenset(
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
_ALL_LOCKS = _THREAD_LOCKS | _PROCESS_LOCKS | _OUR_LOCKS
#: PyDataset's constructor arguments, which a subclass must pass on for workers to work.
_PYDATASET_ARGS = frozenset({"workers", "use_multiprocessing", "max_queue_size"})
#: A name that says "lock" as a word (`lock`, `_lock`, `read_lock`, `mutex`), not as letters
#: inside another word (`block_size`, `clock`).
_LOCK_NAME = re.compile(r"(?:^|_)(?:r?locks?|mutex(?:es)?)(?:_|$)")


def _lock_like(name: str) -> bool:
    return _LOCK_NAME.search(name.lower()) is not None


# Objects whose pickling raises TypeError (measured for locks, queues, local, generators).
_UNPICKLABLE_CTORS: Mapping[str, str] = {
    **dict.fromkeys(_THREAD_LOCKS, "a lock"),
    "threading.Event": "a threading.Event (it holds a lock)",
    "threading.Barrier": "a threading.Barrier (it holds a lock)",
    "threading.Thread": "a thread",
    "threading.Timer": "a thread",
    "threading.local": "a threading.local",
    "queue.Queue": "a queue.Queue (it holds locks)",
    "queue.LifoQueue": "a queue.LifoQueue (it holds locks)",
    "queue.PriorityQueue": "a queue.PriorityQueue (it holds locks)",
    "queue.SimpleQueue": "a queue.SimpleQueue",
    "concurrent.futures.ThreadPoolExecutor": "a thread pool",
    "concurrent.futures.ProcessPoolExecutor": "a process pool",
    "concurrent.futures.thread.ThreadPoolExecutor": "a thread pool",
    "multiprocessing.Pool": "a process pool",
    "multiprocessing.pool.Pool": "a process pool",
    "multiprocessing.pool.ThreadPool": "a thread pool",
}

# Connections, sockets and files: shared by forked workers, refused by spawn (TSG251).
_HANDLE_CTORS: Mapping[str, str] = {
    "builtins.open": "an open file",
    "io.open": "an open file",
    "io.FileIO": "an open file",
    "gzip.open": "an open file",
    "gzip.GzipFile": "an open file",
    "bz2.open": "an open file",
    "lzma.open": "an open file",
    "tarfile.open": "an open tar file",
    "zipfile.ZipFile": "an open zip file",
    "mmap.mmap": "a memory map",
    "sqlite3.connect": "a sqlite3 connection",
    "psycopg.connect": "a PostgreSQL connection",
    "psycopg.Connection.connect": "a PostgreSQL connection",
    "psycopg2.connect": "a PostgreSQL connection",
    "pymysql.connect": "a MySQL connection",
    "MySQLdb.connect": "a MySQL connection",
    "mysql.connector.connect": "a MySQL connection",
    "pymongo.MongoClient": "a MongoDB client",
    "redis.Redis": "a Redis client",
    "redis.StrictRedis": "a Redis client",
    "redis.from_url": "a Redis client",
    "socket.socket": "a socket",
    "socket.create_connection": "a socket",
    "h5py.File": "an open HDF5 file",
    "tables.open_file": "an open HDF5 file",
    "lmdb.open": "an LMDB environment",
    "sqlalchemy.create_engine": "a SQLAlchemy engine (a connection pool)",
    "requests.Session": "an HTTP session (a connection pool)",
    "httpx.Client": "an HTTP client (a connection pool)",
    "urllib3.PoolManager": "an HTTP connection pool",
    "boto3.client": "a boto3 client",
    "boto3.resource": "a boto3 resource",
}

# numpy.random names that do NOT use the global RNG state.
_NUMPY_RNG_FACTORIES = frozenset({"default_rng", "RandomState", "Generator"})
_NUMPY_RNG_HARMLESS = frozenset(
    {"SeedSequence", "BitGenerator", "PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"}
)
# stdlib random names that do not draw from the shared global instance.
_STDLIB_RANDOM_HARMLESS = frozenset({"Random", "SystemRandom", "seed", "getstate", "setstate"})

_PROCESS_STARTERS = frozenset(
    {
        "multiprocessing.Pool",
        "multiprocessing.Process",
        "multiprocessing.pool.Pool",
        "multiprocessing.context.Process",
        "concurrent.futures.ProcessPoolExecutor",
        "concurrent.futures.process.ProcessPoolExecutor",
    }
)
_FIT_METHODS = frozenset({"fit", "fit_generator", "evaluate", "evaluate_generator", "predict"})
_FIT_METHODS |= frozenset({"predict_generator"})
_DEPRECATED_METHODS = frozenset({"fit_generator", "evaluate_generator", "predict_generator"})
_THREADSAFE_WRAPPERS = frozenset({"threadsafe_gen.threadsafe_iter"})
_THREADSAFE_DECORATORS = frozenset({"threadsafe_gen.threadsafe_generator"})
_RNG_FOR = frozenset({"threadsafe_gen.rng_for"})
_RNG_CTORS = frozenset(
    {
        "numpy.random.default_rng",
        "numpy.random.RandomState",
        "numpy.random.Generator",
        "random.Random",
    }
)

Condition = Literal["always", "loader", "pydataset"]

# Duck typing ("any class with __getitem__ and __len__") leaves out containers: classes that
# write items or look them up by key, and subclasses of the standard container types.
_CONTAINER_METHODS = frozenset(
    {"__setitem__", "__delitem__", "__contains__", "keys", "items", "values", "get", "append"}
)
_CONTAINER_MODULES = frozenset({"collections", "typing", "builtins"})
_CONTAINER_BASES = frozenset({"abc.Mapping", "abc.Sequence", "abc.MutableMapping"})
_BUILTIN_CONTAINERS = frozenset({"dict", "list", "tuple", "set", "frozenset", "str", "bytes"})
_FIT_CALL_RE = re.compile(rb"\.(?:fit|evaluate|predict)(?:_generator)?\s*\(", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Suppression:
    """One ``# threadsafe-gen: ignore[...]`` comment: its line and codes (``None`` = all)."""

    file: str
    line: int
    codes: frozenset[str] | None
    cell: int | None = None  # notebooks: the code cell (1-based), *line* is within it


@dataclasses.dataclass
class LintResult:
    """What :func:`lint_paths` found.

    Attributes:
        findings: every finding that was not suppressed, most severe first, then by file.
        files: how many files were read.
        seconds: wall time of the run.
        unused_suppressions: ``# threadsafe-gen: ignore`` comments that suppressed nothing
            (reported as TSG653 findings only with ``report_unused_ignores=True``).
    """

    findings: list[Finding]
    files: int = 0
    seconds: float = 0.0
    unused_suppressions: list[Suppression] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no finding has error severity."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def codes(self) -> set[str]:
        """The set of codes found."""
        return {f.code for f in self.findings}


# --------------------------------------------------------------------------------------------
# Per-file facts (picklable, so files can be analysed in worker processes)


@dataclasses.dataclass
class _ClassFacts:
    qualname: str  # module-qualified, e.g. "pkg.data.Loader"
    bases: tuple[str, ...]  # resolved base qualnames ("" when unresolvable)
    defines_getitem: bool
    defines_len: bool
    # A mapping, cache or collection (writes items, or derives from a container type): it
    # has __getitem__/__len__ but is not an index-addressed data loader.
    container: bool = False


@dataclasses.dataclass
class _Pending:
    cls: str  # class qualname the condition is about ("" for always)
    cond: Condition
    finding: Finding


@dataclasses.dataclass
class _FileFacts:
    file: str
    classes: list[_ClassFacts]
    pending: list[_Pending]
    suppressions: list[Suppression]
    # Notebooks: (cell number, line in cell) for each line of the joined code cells.
    cells: tuple[tuple[int, int], ...] = ()


def select_codes(
    select: Iterable[str] | None = None, ignore: Iterable[str] | None = None
) -> frozenset[str]:
    """Return the lint codes enabled by *select* and *ignore* selectors.

    A selector is a code (``TSG351``), a code prefix (``TSG3``), a category
    (``thread-safety``), a check name (``next-without-lock``) or ``ALL``.

    Raises:
        ValueError: a selector matches no lint code.
    """
    lint_codes = [c for c in REGISTRY.values() if c.kind == "lint"]

    def expand(selectors: Iterable[str], what: str) -> set[str]:
        out: set[str] = set()
        for raw in selectors:
            sel = raw.strip()
            if not sel:
                continue
            hit = {
                c.code
                for c in lint_codes
                if sel.upper() == "ALL"
                or c.code.startswith(sel.upper())
                or sel.lower() in (c.name, c.category.value)
            }
            if not hit:
                known = ", ".join(c.code for c in lint_codes)
                msg = (
                    f"{what} {sel!r} matches no lint code. Use a code or prefix ({known}), "
                    f"a category ({', '.join(c.value for c in Category)}) or a check name."
                )
                raise ValueError(msg)
            out |= hit
        return out

    chosen = expand(select, "select") if select else {c.code for c in lint_codes}
    if ignore:
        chosen -= expand(ignore, "ignore")
    return frozenset(chosen)


def lint_source(
    source: str | bytes,
    filename: str = "<string>",
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    report_unused_ignores: bool = False,
) -> LintResult:
    """Lint one module's source text without importing or running it.

    Use it in tests, editors or notebooks; :func:`lint_paths` lints files and folders.

    Args:
        source: Python source code.
        filename: the name shown in findings.
        select: codes, prefixes, categories or check names to report (default: all).
        ignore: the same kinds of selector, removed from *select*.
        report_unused_ignores: also report suppression comments that suppress nothing.

    Returns:
        A :class:`LintResult`.

    Raises:
        ValueError: a selector matches no lint code.

    >>> src = '''
    ... import threading
    ... class It:
    ...     def __init__(self, it):
    ...         self.it, self.lock = it, threading.Lock()
    ...     def __next__(self):
    ...         return next(self.it)
    ... '''
    >>> sorted(lint_source(src).codes())
    ['TSG351']
    """
    start = time.perf_counter()
    raw = source.encode() if isinstance(source, str) else source
    facts = _analyse_file(raw, filename, filename, Path(filename).stem)
    result = _resolve([facts], select_codes(select, ignore), report_unused_ignores, {})
    result.files = 1
    result.seconds = time.perf_counter() - start
    return result


def lint_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    per_file_ignores: Mapping[str, Iterable[str]] | None = None,
    exclude: Iterable[str] = (),
    report_unused_ignores: bool = False,
    root: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
) -> LintResult:
    """Lint Python files and folders statically (the engine of ``threadsafe-gen lint``).

    Nothing is imported or executed: files are parsed with :mod:`ast`. Folders are searched
    recursively for ``*.py`` files, skipping hidden folders, virtual environments and build
    output (:data:`DEFAULT_EXCLUDE`); files named explicitly are always linted.

    Args:
        paths: files and folders.
        select: codes, prefixes (``TSG3``), categories or check names to report.
        ignore: the same kinds of selector, removed from *select*.
        per_file_ignores: ``{glob: [selector, ...]}``; globs match the path relative to
            *root* (``tests/*.py``, ``**/legacy/*``).
        exclude: extra globs of files or folders to skip while expanding folders.
        report_unused_ignores: add a TSG653 finding for every suppression comment that
            suppressed nothing.
        root: the folder paths are reported relative to (default: the current directory).
        jobs: worker processes for big trees (default: up to the CPU count, and 1 for fewer
            than 64 files).

    Returns:
        A :class:`LintResult`; files that do not parse give one TSG852 finding each.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a selector matches no lint code.

    >>> import pathlib, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = pathlib.Path(d, "train.py").write_text("model.fit_generator(gen(), epochs=2)\\n")
    >>> [f"{f.code}:{f.location.line}" for f in lint_paths([d]).findings]
    ['TSG652:1']
    """
    start = time.perf_counter()
    root_path = Path(root if root is not None else os.getcwd()).resolve()
    enabled = select_codes(select, ignore)
    pfi = {glob: select_codes(sels) for glob, sels in (per_file_ignores or {}).items()}
    files = list(_expand(paths, tuple(exclude), root_path))
    jobs_n = _jobs(jobs, len(files))
    args = [(str(p), _display(p, root_path)) for p in files]
    if jobs_n > 1:
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor

        # Forking a multi-threaded process can deadlock the child (a lock held by another
        # thread is copied held): when called from such a process, start workers fresh.
        ctx = multiprocessing.get_context("spawn" if threading.active_count() > 1 else None)
        # Chunks keep inter-process traffic low; each task returns only small facts.
        with ProcessPoolExecutor(max_workers=jobs_n, mp_context=ctx) as pool:
            facts = list(pool.map(_analyse_path, args, chunksize=max(1, len(args) // (jobs_n * 8))))
    else:
        facts = [_analyse_path(a) for a in args]
    result = _resolve(facts, enabled, report_unused_ignores, pfi)
    result.files = len(files)
    result.seconds = time.perf_counter() - start
    return result


def _jobs(jobs: int | None, n_files: int) -> int:
    if jobs is not None:
        if jobs < 1:
            msg = f"jobs must be >= 1, got {jobs!r}"
            raise ValueError(msg)
        return jobs
    if n_files < 64:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def _expand(
    paths: Sequence[str | os.PathLike[str]], exclude: tuple[str, ...], root: Path
) -> Iterator[Path]:
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            msg = f"path {os.fspath(raw)!r} does not exist; pass Python files or folders to lint"
            raise FileNotFoundError(msg)
        if p.is_file():
            candidates: Iterable[Path] = [p]
        else:
            candidates = _walk(p, exclude, root)
        for c in candidates:
            key = c.resolve()
            if key not in seen:
                seen.add(key)
                yield c


def _walk(folder: Path, exclude: tuple[str, ...], root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in DEFAULT_EXCLUDE
            and not _excluded(Path(dirpath, d), exclude, root)
        )
        for name in sorted(filenames):
            if name.endswith((".py", ".ipynb")):
                path = Path(dirpath, name)
                if not _excluded(path, exclude, root):
                    yield path


def _excluded(path: Path, exclude: tuple[str, ...], root: Path) -> bool:
    if not exclude:
        return False
    rel = _display(path, root)
    return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(path.name, g) for g in exclude)


def _display(path: Path, root: Path) -> str:
    full = path.resolve()
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        return full.as_posix()


def _module_name(path: Path) -> str:
    """Dotted module name from the package folders around *path* (``__init__.py`` walk)."""
    full = path.resolve()
    parts = [] if full.name == "__init__.py" else [full.stem]
    parent = full.parent
    while (parent / "__init__.py").exists() and parent.parent != parent:
        parts.append(parent.name)
        parent = parent.parent
    return ".".join(reversed(parts)) or full.stem


def _analyse_path(arg: tuple[str, str]) -> _FileFacts:
    path, shown = arg
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        finding = make_finding(
            "TSG852",
            path=shown,
            message=f"{shown} could not be read ({exc.strerror or exc}), so it was not linted",
            location=Location(shown, 1, 1),
        )
        return _FileFacts(shown, [], [_Pending("", "always", finding)], [])
    if path.endswith(".ipynb"):
        return _analyse_notebook(raw, path, shown)
    return _analyse_file(raw, path, shown, _module_name(Path(path)))


def _notebook_source(raw: bytes) -> tuple[bytes, tuple[tuple[int, int], ...]]:
    """Join a notebook's code cells into one module; map each line back to (cell, line).

    IPython magics and shell escapes (``%time``, ``!pip``) become blank lines or ``pass`` so
    the rest parses; a cell magic (``%%bash``) blanks its whole cell. Line numbers are kept.
    """
    nb = json.loads(raw)
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        msg = "no 'cells' list (not a Jupyter notebook in nbformat 4)"
        raise ValueError(msg)
    out: list[str] = []
    where: list[tuple[int, int]] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else str(src)
        lines = text.split("\n")
        magic_cell = text.lstrip().startswith("%%")
        for i, line in enumerate(lines, start=1):
            stripped = line.lstrip()
            if magic_cell:
                line = ""
            elif stripped.startswith(("%", "!")):
                indent = line[: len(line) - len(stripped)]
                line = f"{indent}pass" if indent else ""
            out.append(line)
            where.append((number, i))
    return "\n".join(out).encode(), tuple(where)


def _analyse_notebook(raw: bytes, path: str, shown: str) -> _FileFacts:
    try:
        source, cells = _notebook_source(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
        finding = make_finding(
            "TSG852",
            path=shown,
            message=f"{shown} is not a readable notebook ({exc}), so it was not linted",
            location=Location(shown, 1, 1),
        )
        return _FileFacts(shown, [], [_Pending("", "always", finding)], [])
    facts = _analyse_file(source, path, shown, Path(path).stem)
    # A notebook runs in a kernel, not as a script: there is no __main__ guard to add.
    facts.pending = [p for p in facts.pending if p.finding.code != "TSG851"]
    for p in facts.pending:
        f = p.finding
        if f.code == "TSG852" and f.location is not None and 1 <= f.location.line <= len(cells):
            cell, line = cells[f.location.line - 1]
            text = f.message.replace(
                f"at line {f.location.line},", f"at cell {cell}, line {line},", 1
            )
            p.finding = dataclasses.replace(f, message=text)
    facts.cells = cells
    return facts


def _in_cell(f: Finding, cells: tuple[tuple[int, int], ...]) -> Finding:
    """Move a finding from joined-notebook lines to (cell, line in cell)."""
    loc = f.location
    if loc is None or not cells:
        return f
    cell, line = cells[min(max(loc.line, 1), len(cells)) - 1]
    end_line = None
    if loc.end_line is not None and 1 <= loc.end_line <= len(cells):
        end_cell, end = cells[loc.end_line - 1]
        end_line = end if end_cell == cell else None
    new_loc = Location(
        loc.file, line, loc.column, end_line, loc.end_column if end_line is not None else None
    )
    return dataclasses.replace(f, location=new_loc, details={**f.details, "cell": cell})


# --------------------------------------------------------------------------------------------
# Resolution across files


def _resolve(
    facts: list[_FileFacts],
    enabled: frozenset[str],
    report_unused: bool,
    per_file_ignores: Mapping[str, frozenset[str]],
) -> LintResult:
    index = {c.qualname: c for ff in facts for c in ff.classes}
    loader_cache: dict[str, bool] = {}
    pydataset_cache: dict[str, bool] = {}

    def is_known_base(q: str, names: frozenset[str]) -> bool:
        parts = q.split(".")
        return len(parts) > 1 and parts[0] in _KERAS_ROOTS and parts[-1] in names

    def is_pydataset(q: str, depth: int = 0) -> bool:
        if q in pydataset_cache:
            return pydataset_cache[q]
        pydataset_cache[q] = False  # cycle guard
        parts = q.split(".")
        # Keras 3 made `keras.utils.Sequence` an alias of PyDataset; tf_keras' Sequence
        # has no constructor arguments.
        known = parts[0] in {"keras", "tensorflow"} and parts[-1] in _LOADER_BASE_NAMES
        known = known and "python" not in parts
        cls = index.get(q)
        ans = known or (
            cls is not None and depth < 50 and any(is_pydataset(b, depth + 1) for b in cls.bases)
        )
        pydataset_cache[q] = ans
        return ans

    def has_method(q: str, attr: str, depth: int = 0) -> bool:
        cls = index.get(q)
        if cls is None or depth > 50:
            return False
        if getattr(cls, attr):
            return True
        return any(has_method(b, attr, depth + 1) for b in cls.bases)

    def is_loader(q: str, depth: int = 0) -> bool:
        if q in loader_cache:
            return loader_cache[q]
        loader_cache[q] = False
        cls = index.get(q)
        # A framework base is known by its name, also when its own source is linted too
        # (linting keras itself: its PyDataset defines __getitem__ but no __len__).
        ans = is_known_base(q, _LOADER_BASE_NAMES)
        if not ans and cls is not None and depth < 50:
            ans = any(is_loader(b, depth + 1) for b in cls.bases) or (
                has_method(q, "defines_getitem")
                and has_method(q, "defines_len")
                and not has_method(q, "container")
            )
        loader_cache[q] = ans
        return ans

    findings: list[Finding] = []
    unused: list[Suppression] = []
    for ff in facts:
        file_ignored = frozenset().union(
            *(codes for glob, codes in per_file_ignores.items() if fnmatch.fnmatch(ff.file, glob))
        )
        used: set[tuple[int, str | None]] = set()
        by_line: dict[int, list[Suppression]] = {}
        for s in ff.suppressions:
            by_line.setdefault(s.line, []).append(s)
        for p in ff.pending:
            f = p.finding
            if f.code not in enabled and f.code != "TSG852":
                continue
            if f.code in file_ignored:
                continue
            if p.cond == "loader" and not is_loader(p.cls):
                continue
            if p.cond == "pydataset" and (
                not is_pydataset(p.cls) or is_known_base(p.cls, _LOADER_BASE_NAMES)
            ):
                continue  # the rule is about subclasses, not the framework's own base class
            line = f.location.line if f.location else 0
            hit = False
            for s in by_line.get(line, ()):
                if s.codes is None:
                    used.add((s.line, None))
                    hit = True
                elif f.code in s.codes:
                    used.add((s.line, f.code))
                    hit = True
            if not hit:
                findings.append(_in_cell(f, ff.cells) if ff.cells else f)
        for s in ff.suppressions:
            if s.codes is None:
                left: frozenset[str] | None = None
                if (s.line, None) in used:
                    continue
            else:
                left = frozenset(c for c in s.codes if (s.line, c) not in used)
                if not left:
                    continue
            if ff.cells and 1 <= s.line <= len(ff.cells):
                cell, line = ff.cells[s.line - 1]
                unused.append(dataclasses.replace(s, codes=left, line=line, cell=cell))
            else:
                unused.append(dataclasses.replace(s, codes=left))
    if report_unused and "TSG653" in enabled:
        for s in unused:
            what = "ignore" if s.codes is None else f"ignore[{','.join(sorted(s.codes))}]"
            unknown = sorted(c for c in s.codes or () if c not in REGISTRY)
            why = (
                f"; {', '.join(unknown)} {'is not a' if len(unknown) == 1 else 'are not'} "
                "registered code" + ("" if len(unknown) == 1 else "s")
                if unknown
                else ""
            )
            where = f"line {s.line}" if s.cell is None else f"cell {s.cell}, line {s.line}"
            findings.append(
                make_finding(
                    "TSG653",
                    path=s.file,
                    message=f"`# threadsafe-gen: {what}` suppresses nothing on {where}{why}",
                    location=Location(s.file, s.line, 1),
                    details={} if s.cell is None else {"cell": s.cell},
                )
            )
    findings.sort(
        key=lambda f: (
            -f.severity.rank,
            f.location.file if f.location else f.path,
            f.details.get("cell", 0),
            f.location.line if f.location else 0,
            f.location.column if f.location else 0,
            f.code,
        )
    )
    return LintResult(findings=findings, unused_suppressions=unused)


# --------------------------------------------------------------------------------------------
# One file


def _suppressions(raw: bytes, shown: str) -> list[Suppression]:
    if b"threadsafe-gen" not in raw:  # fast path: tokenizing every file costs ~20 % of a run
        return []
    out: list[Suppression] = []
    try:
        tokens = list(tokenize.tokenize(io.BytesIO(raw).readline))
    except (tokenize.TokenError, SyntaxError):
        return out
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        m = _SUPPRESS_RE.search(tok.string)
        if m is None:
            continue
        codes = None
        if m.group(1) is not None:
            codes = frozenset(c.strip().upper() for c in m.group(1).split(",") if c.strip())
        out.append(Suppression(shown, tok.start[0], codes))
    return out


def _analyse_file(raw: bytes, path: str, shown: str, module: str) -> _FileFacts:
    suppressions = _suppressions(raw, shown)
    try:
        tree = ast.parse(raw, filename=path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        col = getattr(exc, "offset", None) or 1
        reason = getattr(exc, "msg", None) or str(exc)
        finding = make_finding(
            "TSG852",
            path=shown,
            message=f"{shown} is not valid Python ({reason} at line {line}, column {col}), so "
            "it was not linted",
            location=Location(shown, line, col),
        )
        return _FileFacts(shown, [], [_Pending("", "always", finding)], suppressions)
    analyser = _FileAnalyser(tree, shown, module, raw)
    analyser.run()
    return _FileFacts(shown, analyser.classes, analyser.pending, suppressions)


def _is_main_guard(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def _body_without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def _is_stub(body: list[ast.stmt]) -> bool:
    """``...``, ``pass`` or a lone ``raise``: a method body that serves nothing."""
    rest = _body_without_docstring(body)
    if not rest:
        return True
    if len(rest) != 1:
        return False
    s = rest[0]
    if isinstance(s, ast.Pass):
        return True
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is ...:
        return True
    # A body that only raises (abstract, or "not subscriptable") serves no data.
    return isinstance(s, ast.Raise)


def _walk_local(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Walk nodes without entering nested functions, lambdas or classes."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            stack.append(child)


_BLOCK_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})


def _match_lines(pattern: re.Pattern[bytes], raw: bytes) -> list[int]:
    """Sorted 1-based line numbers where *pattern* matches in *raw*."""
    out: list[int] = []
    line, pos = 1, 0
    for m in pattern.finditer(raw):
        line += raw.count(b"\n", pos, m.start())
        pos = m.start()
        if not out or out[-1] != line:
            out.append(line)
    return out


def _iter_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones included (function and class bodies too)."""
    stack: list[ast.stmt] = list(reversed(body))
    while stack:
        stmt = stack.pop()
        yield stmt
        nested: list[ast.stmt] = []
        for field in ("body", "orelse", "finalbody"):
            sub = getattr(stmt, field, None)
            if isinstance(sub, list):
                nested.extend(sub)
        for h in getattr(stmt, "handlers", None) or ():
            nested.extend(h.body)
        for case in getattr(stmt, "cases", None) or ():
            nested.extend(case.body)
        stack.extend(reversed(nested))


def _contains_yield(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in _walk_local(fn.body))


def _self_attr(node: ast.AST, self_name: str) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == self_name
    ):
        return node.attr
    return None


def _const_int(node: ast.AST | None) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return int(node.value)
    return None


class _FileAnalyser:
    def __init__(self, tree: ast.Module, shown: str, module: str, raw: bytes) -> None:
        self.tree = tree
        # Byte-level pre-filters: a rule whose trigger words are absent from the file
        # cannot fire, and skipping its walk keeps a whole-package lint within seconds.
        self.has_yield = b"yield" in raw
        self.has_lock = any(w in raw for w in (b"lock", b"Lock", b"mutex"))
        self.has_procs = any(w in raw for w in (b"Pool", b"Process", b"use_multiprocessing"))
        self.fit_lines = _match_lines(_FIT_CALL_RE, raw)
        self.file = shown
        self.module = module
        self.imports: dict[str, str] = {}
        self.local_classes: set[str] = set()
        self.generator_funcs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.safe_generator_funcs: set[str] = set()
        self.module_funcs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.classes: list[_ClassFacts] = []
        self.pending: list[_Pending] = []
        self.worker_generators: set[str] = set()
        self.attr_calls: list[ast.Call] = []
        self.assigns: list[ast.Assign] = []
        self.classdefs: list[ast.ClassDef] = []

    # -- names ---------------------------------------------------------------------------

    def _collect(self) -> None:
        """One walk over the tree: imports, classes, assignments and method calls."""
        if self.file.endswith("__init__.py"):
            package = self.module
        else:
            package = self.module.rsplit(".", 1)[0] if "." in self.module else ""
        if self.fit_lines:
            self.attr_calls = [
                n
                for n in self._expressions_on_lines(self.fit_lines)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            ]
        # Statements only: expressions are most of a tree and hold nothing collected here.
        for node in _iter_statements(self.tree.body):
            if isinstance(node, ast.Assign):
                self.assigns.append(node)
            elif isinstance(node, ast.ClassDef):
                self.classdefs.append(node)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.imports[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        self.imports[top] = top
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".") if package else []
                    keep = len(parts) - (node.level - 1)
                    prefix = ".".join(parts[: max(keep, 0)])
                    base = ".".join(p for p in (prefix, base) if p)
                for a in node.names:
                    if a.name == "*":
                        continue
                    self.imports[a.asname or a.name] = f"{base}.{a.name}" if base else a.name
        # Module-level aliases of imported names: `Base = keras.utils.PyDataset`.
        for node in self.tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, (ast.Name, ast.Attribute))
            ):
                target = node.targets[0].id
                q = self.qualname(node.value)
                if q is not None and target not in self.imports:
                    self.imports[target] = q

    def _expressions_on_lines(self, lines: list[int]) -> Iterator[ast.AST]:
        """Expression nodes of the statements that span any of *lines* (sorted)."""
        for stmt in _iter_statements(self.tree.body):
            lo = stmt.lineno
            hi = stmt.end_lineno or lo
            i = bisect.bisect_left(lines, lo)
            if i == len(lines) or lines[i] > hi:
                continue
            for field, value in ast.iter_fields(stmt):
                if field in _BLOCK_FIELDS:
                    continue  # nested statements are visited on their own
                for v in value if isinstance(value, list) else [value]:
                    if isinstance(v, ast.AST):
                        yield from ast.walk(v)

    def qualname(self, node: ast.AST) -> str | None:
        """The fully qualified name an expression refers to, through this module's imports."""
        if isinstance(node, ast.Name):
            if node.id in self.imports:
                return self.imports[node.id]
            if node.id in self.local_classes or node.id in self.module_funcs:
                return f"{self.module}.{node.id}"
            if node.id == "open":
                return "builtins.open"
            return None
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def call_name(self, node: ast.AST) -> str | None:
        return self.qualname(node.func) if isinstance(node, ast.Call) else None

    def loc(self, node: ast.AST) -> Location:
        return Location(
            self.file,
            getattr(node, "lineno", 1),
            getattr(node, "col_offset", 0) + 1,
            getattr(node, "end_lineno", None),
            (getattr(node, "end_col_offset", None) or 0) + 1
            if getattr(node, "end_col_offset", None) is not None
            else None,
        )

    def add(
        self,
        code: str,
        node: ast.AST,
        where: str,
        message: str,
        *,
        cls: str = "",
        cond: Condition = "always",
        hint: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        path = f"{self.module}.{where}" if where else self.module
        finding = make_finding(
            code, path=path, message=message, hint=hint, severity=severity, location=self.loc(node)
        )
        self.pending.append(_Pending(cls, cond, finding))

    # -- driver --------------------------------------------------------------------------

    def run(self) -> None:
        self._collect()
        for stmt in self.tree.body:
            if isinstance(stmt, ast.ClassDef):
                self.local_classes.add(stmt.name)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.module_funcs[stmt.name] = stmt
                if self.has_yield and _contains_yield(stmt):
                    self.generator_funcs[stmt.name] = stmt
                    if any(
                        self.qualname(_undecorate(d)) in _THREADSAFE_DECORATORS
                        for d in stmt.decorator_list
                    ):
                        self.safe_generator_funcs.add(stmt.name)
                        # Made for worker threads: its randomness is shared by them.
                        self.worker_generators.add(stmt.name)
        self._check_calls()
        for cls in self.classdefs:
            self._check_class(cls)
        for name in sorted(self.worker_generators):
            fn = self.generator_funcs.get(name)
            if fn is not None:
                self._check_rng(fn, name, None, cls="", cond="always")
        if self.has_procs:
            self._check_main_guard()

    # -- calls: fit(generator), deprecated API -------------------------------------------

    def _check_calls(self) -> None:
        # Names bound (anywhere in the module) to a call of a local generator function.
        bound: dict[str, tuple[str, bool]] = {}
        for node in self.assigns:
            if len(node.targets) == 1:
                t = node.targets[0]
                kind = self._generator_expr(node.value, bound)
                if isinstance(t, ast.Name) and kind is not None:
                    bound[t.id] = kind
        for call in self.attr_calls:
            assert isinstance(call.func, ast.Attribute)  # collected that way
            method = call.func.attr
            if method in _DEPRECATED_METHODS:
                new = method.replace("_generator", "")
                self.add(
                    "TSG652",
                    call,
                    "",
                    f"`.{method}(...)` was removed in Keras 3 and is deprecated in tf_keras",
                    hint=f"Call `.{new}(...)` with a keras.utils.PyDataset (or "
                    "threadsafe_gen.keras.GeneratorDataset for a generator function).",
                )
            if method in _FIT_METHODS:
                self._check_fit(call, method, bound)

    def _generator_expr(
        self, node: ast.AST, bound: Mapping[str, tuple[str, bool]]
    ) -> tuple[str, bool] | None:
        """(description, wrapped-with-a-lock) when *node* evaluates to a generator."""
        if isinstance(node, ast.GeneratorExp):
            return "a generator expression", False
        if isinstance(node, ast.Name) and node.id in bound:
            return bound[node.id]
        if isinstance(node, ast.Call):
            q = self.call_name(node)
            if q in _THREADSAFE_WRAPPERS and node.args:
                inner = self._generator_expr(node.args[0], bound)
                if inner is not None:
                    return f"threadsafe_iter({inner[0]})", True
            if isinstance(node.func, ast.Name) and node.func.id in self.generator_funcs:
                name = node.func.id
                return f"the generator {name}()", name in self.safe_generator_funcs
        return None

    def _check_fit(
        self, node: ast.Call, method: str, bound: Mapping[str, tuple[str, bool]]
    ) -> None:
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        data = node.args[0] if node.args else kw.get("x", kw.get("generator"))
        if data is None:
            return
        gen = self._generator_expr(data, bound)
        if gen is None:
            return
        desc, locked = gen
        workers = _const_int(kw.get("workers"))
        mp = kw.get("use_multiprocessing")
        use_mp = isinstance(mp, ast.Constant) and mp.value is True
        if use_mp or (workers is not None and workers > 1):
            # Only a generator that workers share can replay the global RNG's stream.
            self._mark_worker_generator(data, bound)
        if use_mp:
            self.add(
                "TSG451",
                node,
                "",
                f"`.{method}()` gets {desc} with use_multiprocessing=True: tf_keras copies the "
                "generator into every worker process, so each item arrives up to `workers` "
                "times, silently (in a measured test loader: 4 copies of every sample with workers=4)",
                hint="Use a keras.utils.PyDataset (index-addressed), or "
                "threadsafe_gen.keras.GeneratorDataset, which shards the generator function "
                "per worker.",
            )
        elif workers is not None and workers > 1 and not locked:
            self.add(
                "TSG451",
                node,
                "",
                f"`.{method}()` gets {desc} with workers={workers}: tf_keras' worker threads "
                "call next() on one generator and fail with 'Your generator is NOT "
                "thread-safe' ('ValueError: generator already executing'); Keras 3's fit() "
                "rejects workers= altogether",
                hint="Decorate the generator function with @threadsafe_gen.threadsafe_generator "
                "or wrap the generator with threadsafe_gen.threadsafe_iter(...); better, use a "
                "PyDataset or threadsafe_gen.keras.GeneratorDataset.",
            )

    def _mark_worker_generator(
        self, data: ast.AST, bound: Mapping[str, tuple[str, bool]], depth: int = 0
    ) -> None:
        if depth > 5:  # `g = threadsafe_iter(g)` chains
            return
        node = data
        if (
            isinstance(node, ast.Call)
            and self.call_name(node) in _THREADSAFE_WRAPPERS
            and node.args
        ):
            node = node.args[0]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in self.generator_funcs:
                self.worker_generators.add(node.func.id)
        elif isinstance(node, ast.Name):
            for n in self.assigns:
                if any(
                    isinstance(t, ast.Name) and t.id == node.id for t in n.targets
                ) and isinstance(n.value, ast.Call):
                    self._mark_worker_generator(n.value, bound, depth + 1)

    # -- classes -------------------------------------------------------------------------

    def _check_class(self, node: ast.ClassDef) -> None:
        qual = f"{self.module}.{node.name}"
        bases = tuple(self.qualname(b) or "" for b in node.bases)
        methods = {
            s.name: s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        container = any(m in _CONTAINER_METHODS for m in methods) or any(
            b.split(".")[0] in _CONTAINER_MODULES or b in _CONTAINER_BASES for b in bases
        )
        container = container or any(
            isinstance(b, ast.Name) and b.id in _BUILTIN_CONTAINERS and b.id not in self.imports
            for b in node.bases
        )
        facts = _ClassFacts(qual, bases, "__getitem__" in methods, "__len__" in methods, container)
        self.classes.append(facts)
        could_be_loader = any(bases) or (facts.defines_getitem and facts.defines_len)
        if not could_be_loader and "__next__" not in methods:
            # Without a base class or both protocol methods it can never be a loader, and
            # without __next__ it is no iterator: no rule applies.
            return
        wants_locks = self.has_lock and ("__next__" in methods or facts.defines_getitem)
        lock_attrs = self._lock_attrs(node) if wants_locks else {}
        nxt = methods.get("__next__")
        if nxt is not None and lock_attrs:
            self._check_next(node, nxt, methods, lock_attrs)
        init = methods.get("__init__")
        if init is not None:
            self._check_init(node, init, qual)
        getitem = methods.get("__getitem__")
        if getitem is not None and not _is_stub(getitem.body):
            self._check_getitem(node, getitem, qual, lock_attrs)
            self._check_helpers_rng(node, getitem, methods, qual)

    def _lock_attrs(self, cls: ast.ClassDef) -> dict[str, ast.AST]:
        """Attributes of ``self`` that hold a lock: assigned a lock, or named like one."""
        out: dict[str, ast.AST] = {}
        for stmt in cls.body:  # class attributes: `lock = threading.Lock()`
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t, v in _pairs(targets, stmt.value):
                    if isinstance(t, ast.Name) and (
                        self.call_name(v) in _ALL_LOCKS or _lock_like(t.id)
                    ):
                        out.setdefault(t.id, stmt)
        for fn in cls.body:
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not fn.args.args:
                continue
            self_name = fn.args.args[0].arg
            for n in _walk_local(fn.body):
                if isinstance(n, (ast.Assign, ast.AnnAssign)):
                    targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                    for t, v in _pairs(targets, n.value):
                        attr = _self_attr(t, self_name)
                        if attr is None:
                            continue
                        if self.call_name(v) in _ALL_LOCKS or _lock_like(attr):
                            out.setdefault(attr, n)
        return out

    def _check_next(
        self,
        cls: ast.ClassDef,
        nxt: ast.FunctionDef | ast.AsyncFunctionDef,
        methods: Mapping[str, ast.FunctionDef | ast.AsyncFunctionDef],
        lock_attrs: Mapping[str, ast.AST],
    ) -> None:
        if _is_stub(nxt.body):
            return

        def holds(fn: ast.FunctionDef | ast.AsyncFunctionDef, depth: int) -> bool:
            if not fn.args.args:
                return False
            me = fn.args.args[0].arg
            for n in _walk_local(fn.body):
                if isinstance(n, (ast.With, ast.AsyncWith)):
                    for item in n.items:
                        if _self_attr(item.context_expr, me) in lock_attrs:
                            return True
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                    if n.func.attr == "acquire" and _self_attr(n.func.value, me) in lock_attrs:
                        return True
                    # __next__ delegating to a method of the class that holds the lock
                    # (the Python 2 recipe's `def __next__(self): return self.next()`).
                    callee = _self_attr(n.func, me)
                    if (
                        callee is not None
                        and callee in methods
                        and depth < 3
                        and holds(methods[callee], depth + 1)
                    ):
                        return True
            return False

        if holds(nxt, 0):
            return
        names = ", ".join(f"self.{a}" for a in sorted(lock_attrs))
        self.add(
            "TSG351",
            nxt,
            f"{cls.name}.__next__",
            f"{cls.name}.__next__ never holds {names}, so the lock protects nothing: threads "
            "calling next() at once fail with 'ValueError: generator already executing' or "
            "race silently",
            hint=f"Put the body of __next__ under `with self.{sorted(lock_attrs)[0]}:`, or "
            "replace the class with threadsafe_gen.threadsafe_iter(iterable).",
        )

    def _check_init(
        self, cls: ast.ClassDef, init: ast.FunctionDef | ast.AsyncFunctionDef, qual: str
    ) -> None:
        if not init.args.args:
            return
        me = init.args.args[0].arg
        generator_methods = (
            {
                s.name
                for s in cls.body
                if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and _contains_yield(s)
            }
            if self.has_yield
            else set()
        )
        # A class that controls its own pickling may drop or rebuild the attribute.
        custom_pickling = any(
            isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
            and s.name in {"__getstate__", "__reduce__", "__reduce_ex__"}
            for s in cls.body
        )
        calls_super = False
        forwards_kwargs = False
        passes_workers = False
        for n in _walk_local(init.body):
            if isinstance(n, ast.Call) and self._is_super_init(n, me):
                calls_super = True
                forwards_kwargs = forwards_kwargs or any(k.arg is None for k in n.keywords)
                passes_workers = (
                    passes_workers
                    or any(k.arg in _PYDATASET_ARGS for k in n.keywords)
                    or any(isinstance(a, ast.Name) and a.id in _PYDATASET_ARGS for a in n.args)
                )
            if not isinstance(n, (ast.Assign, ast.AnnAssign)) or n.value is None:
                continue
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t, v in _pairs(targets, n.value):
                attr = _self_attr(t, me)
                if attr is None:
                    continue
                self._check_stored_value(
                    cls, qual, attr, v, n, me, generator_methods, custom_pickling
                )
        if not calls_super:
            self.add(
                "TSG651",
                init,
                f"{cls.name}.__init__",
                f"{cls.name}.__init__ does not call super().__init__(**kwargs): Keras then "
                "ignores workers=, use_multiprocessing= and max_queue_size= and runs the "
                "loader with one worker",
                cls=qual,
                cond="pydataset",
            )
        elif not forwards_kwargs and not passes_workers and init.args.kwarg is None:
            self.add(
                "TSG651",
                init,
                f"{cls.name}.__init__",
                f"{cls.name}.__init__ calls super().__init__() without **kwargs, so "
                f"{cls.name}(..., workers=4) raises TypeError and the loader always runs "
                "with one worker",
                cls=qual,
                cond="pydataset",
                severity=Severity.INFO,
                hint="Accept **kwargs in __init__ and pass them on: super().__init__(**kwargs).",
            )

    def _is_super_init(self, call: ast.Call, me: str) -> bool:
        f = call.func
        if not isinstance(f, ast.Attribute) or f.attr != "__init__":
            return False
        v = f.value
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "super":
            return True
        # Base.__init__(self, ...)
        return bool(call.args) and isinstance(call.args[0], ast.Name) and call.args[0].id == me

    def _check_stored_value(
        self,
        cls: ast.ClassDef,
        qual: str,
        attr: str,
        value: ast.AST,
        stmt: ast.AST,
        me: str,
        generator_methods: set[str],
        custom_pickling: bool,
    ) -> None:
        where = f"{cls.name}.__init__"
        what: str | None = None
        q = self.call_name(value)
        if isinstance(value, ast.Lambda):
            what = "a lambda (pickle refers to functions by name; a lambda has none)"
        elif isinstance(value, ast.GeneratorExp):
            what = "a generator expression"
        elif q is not None and q in _UNPICKLABLE_CTORS:
            what = f"{_UNPICKLABLE_CTORS[q]} ({q})"
        elif isinstance(value, ast.Call) and (
            (isinstance(value.func, ast.Name) and value.func.id in self.generator_funcs)
            or _self_attr(value.func, me) in generator_methods
        ):
            what = f"a generator ({ast.unparse(value.func)}() contains yield)"
        if what is not None and not custom_pickling:
            fix = (
                "Use threadsafe_gen.Lock() (it pickles and is re-created in each worker)"
                if q in _THREAD_LOCKS
                else "Create it where it is used (inside __getitem__, or lazily per worker "
                "with threadsafe_gen.per_process / per_thread)"
                if "lambda" not in what
                else "Use a module-level def function instead of the lambda"
            )
            self.add(
                "TSG151",
                stmt,
                where,
                f"{cls.name}.__init__ stores {what} on self.{attr}: the loader cannot be "
                "pickled, so workers started with spawn or forkserver (macOS, Windows, "
                "Linux from Python 3.14) cannot receive it",
                cls=qual,
                cond="loader",
                hint=f"{fix}; or drop self.{attr} in __getstate__.",
            )
            return
        if q is not None and q in _RNG_CTORS:
            self.add(
                "TSG551",
                stmt,
                where,
                f"{cls.name}.__init__ stores a random generator ({q}) on self.{attr}: pickling "
                "or forking copies it with its state into every worker, so the workers draw "
                "the same numbers (in a measured test loader: 2 of 8 values distinct with 4 workers, under fork "
                "and spawn alike)",
                cls=qual,
                cond="loader",
                hint="Create the generator inside __getitem__ from the index: "
                "threadsafe_gen.rng_for(index, epoch=epoch).",
            )
            return
        if q is not None and q in _HANDLE_CTORS:
            self.add(
                "TSG251",
                stmt,
                where,
                f"{cls.name}.__init__ stores {_HANDLE_CTORS[q]} ({q}) on self.{attr}: "
                "forked workers share one descriptor/session (wrong rows, interleaved "
                "replies) and spawned workers cannot receive it"
                + (
                    ", and sqlite3 refuses a connection made in another thread"
                    if q.startswith("sqlite3.")
                    else ""
                ),
                cls=qual,
                cond="loader",
                hint=f"Open it lazily per worker: `{attr} = threadsafe_gen.per_process("
                f"factory)` as a class attribute (or per_thread for thread-bound clients).",
            )

    def _check_getitem(
        self,
        cls: ast.ClassDef,
        fn: ast.FunctionDef | ast.AsyncFunctionDef,
        qual: str,
        lock_attrs: Mapping[str, ast.AST],
    ) -> None:
        params = fn.args.posonlyargs + fn.args.args
        if len(params) < 2:
            return
        me, index = params[0].arg, params[1].arg
        where = f"{cls.name}.__getitem__"
        body = _body_without_docstring(fn.body)
        # Lock around the whole body (TSG751).
        if len(body) == 1 and isinstance(body[0], ast.With):
            for item in body[0].items:
                attr = _self_attr(item.context_expr, me)
                q = self.call_name(item.context_expr) or self.qualname(item.context_expr)
                if (
                    (attr is not None and attr in lock_attrs)
                    or (
                        isinstance(item.context_expr, ast.Name)
                        and "lock" in item.context_expr.id.lower()
                    )
                    or q in _ALL_LOCKS
                ):
                    shown = ast.unparse(item.context_expr)
                    self.add(
                        "TSG751",
                        body[0],
                        where,
                        f"`with {shown}:` wraps the whole of {where}, so worker threads run "
                        "one at a time: workers=4 is no faster than workers=1",
                        cls=qual,
                        cond="loader",
                    )
                    break
        elif _acquire_release_whole(body, me, lock_attrs):
            self.add(
                "TSG751",
                body[0],
                where,
                f"{where} acquires a lock before its body and releases it after, so worker "
                "threads run one at a time: workers=4 is no faster than workers=1",
                cls=qual,
                cond="loader",
            )
        reads_index = False
        # Attributes of self that __getitem__ returns (as a whole, a view or in a tuple).
        # An element looked up by key (self.cache[idx]) is not the buffer itself.
        returned = {
            a
            for r in _walk_local(fn.body)
            if isinstance(r, ast.Return) and r.value is not None
            for v in _returned_parts(r.value)
            if (a := _self_attr(v, me)) is not None
        }
        for n in _walk_local(fn.body):
            if isinstance(n, ast.Name) and n.id == index and isinstance(n.ctx, ast.Load):
                reads_index = True
            if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                for t in _flatten_targets(targets):
                    attr = _self_attr(t, me)
                    if attr is None and isinstance(t, ast.Subscript):
                        filled = _self_attr(t.value, me)
                        if filled is not None and filled in returned:
                            self.add(
                                "TSG352",
                                n,
                                where,
                                f"{where} fills self.{filled} in place and returns it: every "
                                "batch is the same array, so batches still queued are "
                                "overwritten by later calls (in a measured test loader: 8 of 64 samples unique "
                                "with 4 threads)",
                                cls=qual,
                                cond="loader",
                                hint="Allocate the batch inside __getitem__ (np.empty(...)) "
                                "or return a copy.",
                            )
                    if attr is not None:
                        op = "+=" if isinstance(n, ast.AugAssign) else "="
                        self.add(
                            "TSG352",
                            n,
                            where,
                            f"{where} assigns self.{attr} {op} ...: worker threads race on it "
                            "and worker processes never see each other's value, so batches "
                            "depend on scheduling",
                            cls=qual,
                            cond="loader",
                        )
        if not reads_index:
            # Nested functions and lambdas may read the index too.
            reads_index = any(
                isinstance(n, ast.Name) and n.id == index for n in ast.walk(fn)
            ) and any(
                isinstance(n, (ast.Lambda, ast.FunctionDef)) for n in ast.walk(fn) if n is not fn
            )
        # `_` names an argument ignored on purpose. A body that reads no state (no `self.x`,
        # no next()) returns constants or fresh random data, the same whichever worker runs
        # it: stand-ins in tests, not a loader that lost track of its index (random data is
        # TSG551's business).
        reads_state = any(
            (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == me)
            or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "next")
            for n in ast.walk(fn)
        )
        if not reads_index and not index.startswith("_") and reads_state:
            self.add(
                "TSG353",
                fn,
                where,
                f"{where} never reads its index argument `{index}`: it returns whatever its "
                "state points at, so with workers>1 batches are duplicated and others "
                "skipped (in a measured test loader: 16 of 64 samples unique with 4 threads)",
                cls=qual,
                cond="loader",
            )
        self._check_rng(fn, where, index, cls=qual, cond="loader")

    # -- randomness ----------------------------------------------------------------------

    def _check_helpers_rng(
        self,
        cls: ast.ClassDef,
        getitem: ast.FunctionDef | ast.AsyncFunctionDef,
        methods: Mapping[str, ast.FunctionDef | ast.AsyncFunctionDef],
        qual: str,
    ) -> None:
        """Global RNG in methods that __getitem__ calls (``self._augment(x)``), 2 levels deep."""
        seen: set[str] = {"__getitem__"}
        frontier: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]] = [
            (getitem, f"{cls.name}.__getitem__")
        ]
        for _ in range(2):
            nxt: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]] = []
            for fn, chain in frontier:
                if not fn.args.args:
                    continue
                me = fn.args.args[0].arg
                for n in _walk_local(fn.body):
                    if not isinstance(n, ast.Call):
                        continue
                    callee = _self_attr(n.func, me)
                    if callee is None or callee in seen or callee not in methods:
                        continue
                    seen.add(callee)
                    helper = methods[callee]
                    where = f"{chain} -> {cls.name}.{callee}"
                    self._check_rng(helper, where, None, cls=qual, cond="loader")
                    nxt.append((helper, where))
            frontier = nxt

    def _check_rng(
        self,
        fn: ast.FunctionDef | ast.AsyncFunctionDef,
        where: str,
        index: str | None,
        *,
        cls: str,
        cond: Condition,
    ) -> None:
        # Names derived from the index (e.g. seed = self.seed + idx), a forward pass.
        tainted: set[str] = {index} if index else set()
        seeded_global = False
        # `self.order = np.random.permutation(n)`: an epoch's order stored on the loader (set
        # lazily on first use, as Keras' image iterators do), which every worker must draw
        # alike; per-index seeding, this rule's fix, would break it.
        me = fn.args.args[0].arg if fn.args.args else None
        stored_orders = {
            id(n.value)
            for n in _walk_local(fn.body)
            if isinstance(n, ast.Assign)
            and me is not None
            and all(_self_attr(t, me) is not None for t in n.targets)
        }
        nodes = sorted(
            (n for n in _walk_local(fn.body) if hasattr(n, "lineno")),
            key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)),
        )
        for n in nodes:
            if (
                isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                and n.value is not None
                and _mentions(n.value, tainted)
            ):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                for t in _flatten_targets(targets):
                    if isinstance(t, ast.Name):
                        tainted.add(t.id)
            if not isinstance(n, ast.Call):
                continue
            q = self.call_name(n)
            if q is None:
                continue
            parts = q.split(".")
            if q.startswith("numpy.random.") and len(parts) == 3:
                name = parts[2]
                if name in _NUMPY_RNG_HARMLESS:
                    continue
                if name == "permutation" and id(n) in stored_orders:
                    continue
                if name == "seed":
                    seeded_global = seeded_global or (_mentions(n, tainted) and bool(tainted))
                    continue
                if name in _NUMPY_RNG_FACTORIES:
                    if index is not None and not (n.args or n.keywords):
                        self.add(
                            "TSG551",
                            n,
                            where,
                            f"{where} creates numpy.random.{name}() without a seed: every call "
                            "draws fresh entropy, so batches are not reproducible and differ "
                            "with the worker count",
                            cls=cls,
                            cond=cond,
                            hint=f"Seed it with the index: threadsafe_gen.rng_for({index}, "
                            f"epoch=epoch), or numpy.random.default_rng([seed, epoch, {index}]).",
                        )
                    elif index is not None and tainted and not _mentions(n, tainted):
                        self.add(
                            "TSG551",
                            n,
                            where,
                            f"{where} seeds numpy.random.{name}(...) without the index "
                            f"`{index}`: every batch gets the same random numbers",
                            cls=cls,
                            cond=cond,
                            hint=f"Include the index in the seed: threadsafe_gen.rng_for({index}, "
                            "epoch=epoch).",
                        )
                    continue
                if seeded_global:
                    continue
                self.add(
                    "TSG551",
                    n,
                    where,
                    f"{where} calls numpy.random.{name}() on numpy's global RNG: forked "
                    "workers inherit the same state and replay the same numbers, in every "
                    "epoch (in a measured test loader: 24 of 64 augmentations distinct with 4 workers)",
                    cls=cls,
                    cond=cond,
                    hint=(
                        f"Draw from threadsafe_gen.rng_for({index}, epoch=epoch) "
                        "(a numpy Generator seeded by index and epoch)."
                        if index
                        else "Create one numpy.random.default_rng(seed) per generator call, "
                        "seeded by a shard or worker id, or use threadsafe_gen.rng_for."
                    ),
                )
            elif q.startswith("random.") and len(parts) == 2:
                if parts[1] in _STDLIB_RANDOM_HARMLESS or seeded_global:
                    continue
                self.add(
                    "TSG551",
                    n,
                    where,
                    f"{where} calls random.{parts[1]}() on Python's shared global RNG: the "
                    "numbers depend on which worker ran which batch, so runs are not "
                    "reproducible (Python reseeds it after fork, so it does not duplicate)",
                    cls=cls,
                    cond=cond,
                    severity=Severity.INFO,
                    hint=(
                        f"Use random.Random(hash((seed, epoch, {index}))) or "
                        f"threadsafe_gen.rng_for({index}, epoch=epoch)."
                        if index
                        else "Use a random.Random(seed) instance per generator call."
                    ),
                )

    # -- main guard ----------------------------------------------------------------------

    def _check_main_guard(self) -> None:
        # Start from the few calls made at import time (outside the guard) and look inside
        # the module functions they call only on demand: library modules have almost no
        # top-level calls, so this costs little even in a big package.
        memo: dict[str, bool] = {}

        def starts_processes(name: str, depth: int) -> bool:
            if name in memo:
                return memo[name]
            memo[name] = False  # recursion guard
            fn = self.module_funcs[name]
            ans = False
            for n in _walk_local(fn.body):
                if not isinstance(n, ast.Call):
                    continue
                if self._process_start(n) is not None or (
                    depth < 10
                    and isinstance(n.func, ast.Name)
                    and n.func.id in self.module_funcs
                    and starts_processes(n.func.id, depth + 1)
                ):
                    ans = True
                    break
            memo[name] = ans
            return ans

        for stmt in self._unguarded_top_level(self.tree.body):
            for n in _walk_local([stmt]):
                if not isinstance(n, ast.Call):
                    continue
                what = self._process_start(n)
                if (
                    what is None
                    and isinstance(n.func, ast.Name)
                    and n.func.id in self.module_funcs
                    and starts_processes(n.func.id, 0)
                ):
                    what = f"{n.func.id}(), which starts worker processes,"
                if what is not None:
                    self.add(
                        "TSG851",
                        n,
                        "",
                        f'{what} runs at import time, outside `if __name__ == "__main__":`: '
                        "under spawn/forkserver every worker re-imports this script and starts "
                        "workers again, so training hangs or fails",
                    )
                    return  # one finding per script is enough to fix it

    def _unguarded_top_level(self, body: list[ast.stmt]) -> Iterator[ast.stmt]:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(stmt, ast.If) and _is_main_guard(stmt.test):
                yield from self._unguarded_top_level(stmt.orelse)
                continue
            if isinstance(stmt, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
                # Recurse into blocks so a guard nested in `try:` still counts.
                inner: list[ast.stmt] = []
                for field in ("body", "orelse", "finalbody"):
                    inner.extend(getattr(stmt, field, []) or [])
                for h in getattr(stmt, "handlers", []) or []:
                    inner.extend(h.body)
                header = [stmt.test] if isinstance(stmt, (ast.If, ast.While)) else []
                if isinstance(stmt, ast.For):
                    header = [stmt.iter]
                if isinstance(stmt, ast.With):
                    header = [i.context_expr for i in stmt.items]
                for h in header:
                    yield ast.Expr(h, lineno=stmt.lineno, col_offset=stmt.col_offset)
                yield from self._unguarded_top_level(inner)
                continue
            yield stmt

    def _process_start(self, call: ast.Call) -> str | None:
        q = self.call_name(call)
        if q in _PROCESS_STARTERS:
            return f"{q}(...)"
        f = call.func
        if (
            isinstance(f, ast.Attribute)
            and f.attr in {"Pool", "Process", "ProcessPoolExecutor"}
            and isinstance(f.value, ast.Call)
            and self.call_name(f.value) == "multiprocessing.get_context"
        ):
            return f"multiprocessing.get_context(...).{f.attr}(...)"
        for k in call.keywords:
            if (
                k.arg == "use_multiprocessing"
                and isinstance(k.value, ast.Constant)
                and k.value.value is True
            ):
                shown = ast.unparse(call.func)
                return f"{shown}(..., use_multiprocessing=True)"
        return None


def _undecorate(d: ast.expr) -> ast.expr:
    return d.func if isinstance(d, ast.Call) else d


def _pairs(
    targets: Sequence[ast.expr], value: ast.expr | None
) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(target, value) pairs, unpacking ``self.a, self.b = x, y``."""
    if value is None:
        return
    for t in targets:
        if isinstance(t, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
            if len(t.elts) == len(value.elts):
                yield from zip(t.elts, value.elts, strict=True)
        else:
            yield t, value


def _flatten_targets(targets: Sequence[ast.expr]) -> Iterator[ast.expr]:
    for t in targets:
        if isinstance(t, (ast.Tuple, ast.List)):
            yield from _flatten_targets(t.elts)
        elif isinstance(t, ast.Starred):
            yield t.value
        else:
            yield t


def _returned_parts(value: ast.expr) -> Iterator[ast.expr]:
    """What a return value hands out as-is: itself, tuple items, and slice views."""
    if isinstance(value, (ast.Tuple, ast.List)):
        for elt in value.elts:
            yield from _returned_parts(elt)
    elif isinstance(value, ast.Subscript):
        if any(isinstance(n, ast.Slice) for n in ast.walk(value.slice)):
            yield value.value  # a view of the same memory
    else:
        yield value


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _acquire_release_whole(
    body: list[ast.stmt], me: str, lock_attrs: Mapping[str, ast.AST]
) -> bool:
    """``self.lock.acquire()`` then ``try: ... finally: self.lock.release()`` as the whole body."""
    if len(body) != 2 or not isinstance(body[1], ast.Try) or not body[1].finalbody:
        return False
    first = body[0]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Call)):
        return False
    f = first.value.func
    if not (isinstance(f, ast.Attribute) and f.attr == "acquire"):
        return False
    attr = _self_attr(f.value, me)
    return attr is not None and attr in lock_attrs
