"""The registry of finding codes: one :class:`Check` per code, and nothing else.

`check_loader()` (dynamic probes), `threadsafe-gen lint` (static rules), the CLI's
``rules``/``explain`` and the output formats, and the docs' checks page all read
:data:`REGISTRY`. A code is defined here once; nothing else spells out a title, a category
or a default severity. (A :class:`~threadsafe_gen._finding.Finding` is one occurrence of a
code: see ``_finding.py``.)

Numbering: ``TSG<c><nn>`` where ``c`` is the category group (1 pickling, 2 fork-safety,
3 thread-safety, 4 duplicate-data, 5 randomness, 6 coverage/structure,
7 performance/resources, 8 hang/crash). Codes ``x00``-``x49`` come from ``check_loader()``
(dynamic), codes ``x50``-``x99`` from the static linter. Codes are never reused.

Each code's failing example and its fix are Python files in ``threadsafe_gen/_examples/``
(``tsg101.py`` and ``tsg101_fix.py``; see that package's docstring), which ruff, mypy and
tests/test_registry_examples.py check. They are read as text, only when asked for
(:attr:`Check.example`, :attr:`Check.fixed`): ``import threadsafe_gen`` reads none of them.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Mapping
from importlib import resources
from typing import Literal

__all__ = [
    "DOCS_CHECKS_PAGE",
    "EXAMPLES_SHOWN_FROM",
    "REGISTRY",
    "Category",
    "Check",
    "Severity",
    "docs_anchor",
    "read_example",
    "row_anchor",
]

#: Where each code is explained. Relative to the repository, so it is true before the docs
#: site is published; `docs/checks.md` is generated from this registry.
DOCS_CHECKS_PAGE = "docs/checks.md"

#: In an example file, the line after which the example starts (what users are shown).
EXAMPLES_SHOWN_FROM = "# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---"

_EXAMPLES_PACKAGE = "_examples"  # threadsafe_gen/_examples/


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
    example_file: str | None = None  # in threadsafe_gen/_examples/: a loader with the problem
    fixed_file: str | None = None  # the same loader fixed
    rows: tuple[str, ...] = ()  # the rows of docs/failure-modes.md that measured the problem

    @property
    def anchor(self) -> str:
        """The docs anchor of this code, e.g. ``docs/checks.md#tsg101``."""
        return docs_anchor(self.code)

    @property
    def example(self) -> str:
        """A short failing example (Python source), or ``""``; read from its file on demand."""
        return read_example(self.example_file) if self.example_file else ""

    @property
    def fixed(self) -> str:
        """The same example fixed, or ``""``; read from its file on demand."""
        return read_example(self.fixed_file) if self.fixed_file else ""

    @property
    def decided_by(self) -> str:
        """The module that decides this code (a probe module or a lint rule module)."""
        return DECIDED_BY[self.code]


def docs_anchor(code: str) -> str:
    """Return the docs anchor for *code*, e.g. ``docs/checks.md#tsg101``."""
    return f"{DOCS_CHECKS_PAGE}#{code.lower()}"


def row_anchor(row: str) -> str:
    """Return the HTML id of a row of docs/failure-modes.md: ``"2b''"`` -> ``"row-2bpp"``."""
    return "row-" + row.replace("'", "p")


@functools.cache
def read_example(filename: str) -> str:
    """The shown part of ``threadsafe_gen/_examples/<filename>``: what follows the line
    :data:`EXAMPLES_SHOWN_FROM` in a ``.py`` file, or all of another file (``tsg852.txt``
    does not parse, by design)."""
    path = resources.files(__package__ or "threadsafe_gen") / _EXAMPLES_PACKAGE / filename
    text = path.read_text(encoding="utf-8")
    if filename.endswith(".py"):
        _, marker, text = text.partition(EXAMPLES_SHOWN_FROM + "\n")
        if not marker:  # pragma: no cover - tests/test_registry.py checks every file
            msg = f"{filename}: no line {EXAMPLES_SHOWN_FROM!r} marks where the example starts"
            raise ValueError(msg)
    return text.lstrip("\n")


def _c(
    code: str,
    name: str,
    title: str,
    category: Category,
    severity: Severity,
    why: str,
    fix: str,
    *,
    example: str | None = "",
    fixed: str | None = "",
    rows: tuple[str, ...] = (),
) -> Check:
    """One entry. Its examples are ``tsgNNN.py`` and ``tsgNNN_fix.py`` unless *example* or
    *fixed* names another file (one shared with other codes), or ``None`` (no example)."""
    kind: Literal["check", "lint"] = "lint" if int(code[-2:]) >= 50 else "check"
    stem = code.lower()
    example = f"{stem}.py" if example == "" else example
    fixed = f"{stem}_fix.py" if fixed == "" else fixed
    return Check(code, name, title, category, severity, kind, why, fix, example, fixed, rows)


_P, _F, _T = Category.PICKLING, Category.FORK_SAFETY, Category.THREAD_SAFETY
_D, _R, _C = Category.DUPLICATE_DATA, Category.RANDOMNESS, Category.COVERAGE
_S, _PF, _RS = Category.STRUCTURE, Category.PERFORMANCE, Category.RESOURCES
_H, _X = Category.HANG, Category.CRASH
_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

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
        rows=("2a", "2c", "5.1", "7.1"),
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
        rows=("2c", "2g'"),
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
        rows=("2.0b",),
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
        rows=("2b'''",),
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
        rows=("2b", "2b''"),
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
        rows=("2a'",),
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
        rows=("2b'",),
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
        rows=("8.1", "8.2"),
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
        rows=("1.1", "1.4", "1.5", "6.4"),
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
        rows=("1.6", "6.3"),
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
        rows=("1.1",),
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
        rows=("1.3",),
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
        rows=("1.7",),
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
        rows=("4.2", "4.3"),
    ),
    # --- duplicate-data ------------------------------------------------------------------
    _c(
        "TSG401",
        "duplicate-samples",
        "The same data is served twice within an epoch",
        _D,
        _W,
        "Two indices of one pass returned the same whole batch, or worker threads served "
        "samples twice that one worker serves once: the model trains on duplicates and misses "
        "other samples. Equal values inside the data (zero padding, sampling with "
        "replacement) are not reported.",
        "Check that __getitem__(i) depends only on i and that each index maps to distinct rows.",
        fixed="tsg301_fix.py",
        rows=("1.1",),
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
        rows=("4.1", "5.2"),
    ),
    _c(
        "TSG403",
        "not-split-across-hosts",
        "Every host would read the same items",
        _D,
        _E,
        "On several machines (tf.distribute multi-worker strategies, torch.distributed, JAX "
        "multi-process) every host runs its own copy of the loader. One that does not split "
        "its data by host makes each host read everything: N hosts do N times the loading "
        "work, and unless the framework drops the copies (tf.data's DATA auto-sharding, which "
        "still loads everything) the model trains on every sample N times per epoch.",
        "Split by host: iterate threadsafe_gen.shard(items) in a generator (it splits over "
        "hosts x local workers), serve a Sequence's part with "
        "@threadsafe_gen.keras.guard(shard_hosts=True), or read threadsafe_gen.host_info(); "
        "or feed the loader through threadsafe_gen.keras.to_tf_dataset, legacy_fit_input or "
        "GeneratorDataset, which split by host themselves. Test it with "
        "check_loader(loader, hosts=2).",
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
        rows=("2d", "4.7", "7.4"),
    ),
    _c(
        "TSG502",
        "same-random-across-epochs",
        "The same 'random' output in every epoch",
        _R,
        _W,
        "Keras forks a new worker pool every epoch from an unchanged parent, so forked "
        "workers repeat last epoch's augmentations; an RNG created in __getitem__ with a seed "
        "that does not change between epochs (RandomState(index)) repeats them with any "
        "workers.",
        "Key randomness on the epoch: threadsafe_gen.rng_for(index, epoch=epoch), with the "
        "epoch moved in on_epoch_end.",
        example="tsg501.py",
        fixed="tsg501_fix.py",
        rows=("2d", "7.4"),
    ),
    _c(
        "TSG503",
        "rng-on-loader",
        "An RNG object is stored on the loader",
        _R,
        _W,
        "Pickling or forking copies the RNG with its state into every worker, so the "
        "workers draw identical numbers (measured: 16 of 64 values distinct with 4 workers). "
        "Reported when __getitem__ draws from it: one used only in __init__ or "
        "on_epoch_end runs in the parent.",
        "Use threadsafe_gen.rng_for(index, epoch=...) inside __getitem__ instead.",
        fixed="tsg501_fix.py",
        rows=("2d",),
    ),
    _c(
        "TSG504",
        "grain-map-not-reproducible",
        "A Grain transform draws from a global RNG: the pipeline is not reproducible",
        _R,
        _I,
        "Grain gives every element its own seeded generator through RandomMap; a Map that "
        "calls numpy.random or random instead draws numbers that change with every run (its "
        "spawned workers are seeded by the OS), so a run cannot be repeated, nor resumed "
        "from a checkpoint with the same data. It does not repeat across workers.",
        "Subclass grain.transforms.RandomMap and draw from the rng given to "
        "random_map(element, rng); seed the pipeline with MapDataset.seed(...).",
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
        fixed="tsg601_fix.py",
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
        rows=("3d", "4.1'"),
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
    ),
    _c(
        "TSG622",
        "dtype-changes",
        "Batch dtype changes between batches",
        _S,
        _E,
        "The dtype is fixed from the first batches; another dtype later fails or silently casts.",
        "Cast explicitly (np.asarray(x, dtype=np.float32)).",
    ),
    _c(
        "TSG623",
        "shape-changes",
        "Batch rank or feature shape changes between batches",
        _S,
        _E,
        "Every Keras fixes the rank of each array. Keras 3 on the TensorFlow backend also "
        "fixes each feature dimension on which its two peeked batches (loader[0] and "
        "loader[1]) agree, so a later batch that differs fails mid-epoch (an error for a "
        "PyDataset; a warning where the loader may be trained with Keras 2/tf_keras, which "
        "accept feature shapes that vary on purpose).",
        "Pad or resize to a fixed shape. For intended varying shapes (multi-scale training, "
        "length bucketing) under Keras 3, make loader[0] and loader[1] differ in that "
        "dimension so its signature leaves it open, and give the model None there.",
    ),
    _c(
        "TSG624",
        "invalid-batch",
        "A batch is not what Keras accepts",
        _S,
        _E,
        "Keras expects (x,), (x, y), (x, y, sample_weight) or a dict, with equal first dimensions.",
        "Return a tuple of arrays with the same number of rows.",
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
        "threadsafe_gen.keras.GeneratorDataset(use_multiprocessing=True) starts its worker processes "
        "once per fit; threadsafe_gen.keras.legacy_fit_input(..., use_multiprocessing=True) "
        "starts workers that import only the loader's own module (keep it free of TensorFlow "
        "imports: about a second per epoch instead of several).",
        rows=("2.0",),
    ),
    _c(
        "TSG703",
        "tf-keras-epoch-stall",
        "tf_keras stalls 5 s at the end of every epoch",
        _PF,
        _I,
        "tf_keras' OrderedEnqueuer waits up to 5 s for a queue at each epoch boundary.",
        "Use Keras 3 PyDataset, or threadsafe_gen.keras.legacy_fit_input.",
        example=None,
        fixed=None,
        rows=("4.5",),
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
    ),
    _c(
        "TSG722",
        "thread-growth",
        "Threads grow with every batch",
        _RS,
        _E,
        "Each call starts a thread (or a client that owns one) and never stops it.",
        "Create the client once per worker with threadsafe_gen.per_process.",
    ),
    _c(
        "TSG723",
        "copy-on-read-growth",
        "Forked workers copy a dataset held as many Python objects",
        _RS,
        _W,
        "Forked DataLoader workers share the parent's memory only until they read it: every "
        "read updates an object's reference count, which copies its memory page into the "
        "worker. A dataset of millions of Python objects (a list of paths, a dict of labels) "
        "is copied into every worker over an epoch, and memory grows until the OOM killer "
        "stops training (PyTorch's long-standing 'memory leak' with many workers).",
        "Hold the data in numpy arrays (a fixed-width string array for paths), pandas or "
        "pyarrow columns, or a memory-mapped file instead of lists and dicts of Python "
        "objects; gc.freeze() after building the dataset removes part of the growth.",
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
        rows=("2f''",),
    ),
    _c(
        "TSG802",
        "check-budget-exhausted",
        "The check ran out of time before all probes ran",
        _H,
        _W,
        "Some probes were skipped, so the report is incomplete.",
        "Raise timeout= or lower max_batches=.",
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
        rows=("2f'",),
    ),
    _c(
        "TSG822",
        "loader-raised",
        "The loader raised an exception",
        _X,
        _E,
        "The exception stops fit() when Keras reaches that index.",
        "Fix the exception; the traceback is in the finding's details.",
        rows=("2f",),
    ),
    # --- static rules (threadsafe-gen lint) ---------------------------------------------------
    _c(
        "TSG151",
        "unpicklable-attribute-in-init",
        "A lock, generator or lambda is stored on self",
        _P,
        _E,
        "Stored in __init__ of a Sequence/PyDataset (made there, or given to a parameter "
        "stored there: its default or a value passed in the same module), it makes the loader "
        "unpicklable for spawn/forkserver workers. check_loader() reports the same problem as "
        "TSG101, or TSG102 for a lambda.",
        "Use threadsafe_gen.Lock, create iterators per call, and use def functions.",
        rows=("2a", "2c"),
    ),
    _c(
        "TSG152",
        "lambda-to-spawned-workers",
        "A lambda or local function is given to DataLoader workers",
        _P,
        _E,
        "DataLoader pickles collate_fn and worker_init_fn into every worker started with "
        "spawn or forkserver (macOS, Windows, Linux from Python 3.14); pickle refers to "
        "functions by name, and a lambda or a function defined inside another has none, so "
        "the first batch fails with a PicklingError.",
        "Define the function at module level (def), or use functools.partial of one.",
        rows=("2c",),
    ),
    _c(
        "TSG251",
        "handle-attribute-in-init",
        "A connection, socket or open file is stored on self",
        _F,
        _W,
        "Forked workers share it; spawned workers cannot receive it. Also when it is "
        "stored in parts (`f = h5py.File(p); self.x = f['x']`) or in a collection.",
        "Use threadsafe_gen.per_process(factory) as a class attribute.",
        rows=("1.7", "1.8", "2b"),
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
        rows=("4.3",),
    ),
    _c(
        "TSG352",
        "getitem-assigns-self",
        "__getitem__ assigns to self or advances an iterator stored on it",
        _T,
        _W,
        "Worker threads race on the attribute, and worker processes never see each "
        "other's changes; the methods __getitem__ calls count too. An iterator on self "
        "advanced with next() is shared by the threads (a generator raises 'generator "
        "already executing') and copied into each process (its items repeat).",
        "Use local variables and derive everything from the index; cache per worker with "
        "per_thread/per_process.",
        rows=("1.1",),
    ),
    _c(
        "TSG353",
        "getitem-ignores-index",
        "__getitem__ ignores its index argument",
        _T,
        _E,
        "A loader that does not read its index serves whatever its cursor points at: with "
        "workers>1 batches are duplicated and skipped. Reported when the batch depends on "
        "state that changes between calls (an iterator, a cursor, an attribute reassigned "
        "outside __init__), whatever the index is called; a stateless simulator is fine.",
        "Compute the batch from the index.",
        rows=("1.1",),
    ),
    _c(
        "TSG451",
        "generator-to-fit-with-workers",
        "A generator is passed to fit() with workers>1 or processes",
        _D,
        _E,
        "tf_keras copies the generator into every process (duplicates) or shares it "
        "between threads (needs a lock); Keras 3 rejects these arguments. Generator "
        "functions imported from other files linted together count; with threads, a "
        "generator wrapped by a lock (threadsafe_iter, or a project's copy of the recipe) is "
        "fine.",
        "Keras 3: fit(threadsafe_gen.keras.GeneratorDataset(gen_fn, workers=N)). tf_keras: "
        "fit(threadsafe_gen.keras.legacy_fit_input(gen_fn, workers=N)) without workers=. Or "
        "use a PyDataset/Sequence.",
        rows=("3a", "4.1", "4.2"),
    ),
    _c(
        "TSG452",
        "iterable-dataset-not-sharded",
        "An IterableDataset's __iter__ ignores which worker runs it",
        _D,
        _E,
        "DataLoader(num_workers=N) runs a copy of an IterableDataset in each of its N "
        "workers; an __iter__ that does not split the data by worker yields every item N "
        "times per epoch (measured: 2.00x with 2 workers), with no warning.",
        "Split the items in __iter__: `for item in threadsafe_gen.shard(items):` (it reads "
        "torch's worker id and count), or torch.utils.data.get_worker_info().",
    ),
    _c(
        "TSG551",
        "global-rng-in-getitem",
        "Global or shared RNG used inside __getitem__ or a generator",
        _R,
        _W,
        "Forked workers inherit numpy's global RNG state, the random state of augmentation "
        "pipelines (albumentations, imgaug) and of TensorFlow's stateful random ops "
        "(tf.image.random_*), and an RNG stored on the loader that __getitem__ draws from is "
        "copied with its state into every worker: the workers replay the same numbers. One "
        "finding per method lists every call. Python's random module is reseeded in forked "
        "children (info only); an RNG used only in on_epoch_end runs in the parent, and one "
        "created unseeded per call draws fresh entropy: both are fine.",
        "Use threadsafe_gen.rng_for(index, epoch=...), or reseed the pipeline from the index.",
        rows=("2d", "4.7"),
    ),
    _c(
        "TSG552",
        "global-rng-in-grain-map",
        "A Grain Map transform draws from a global RNG",
        _R,
        _I,
        "Grain gives each element a seeded generator only through RandomMap; numbers drawn "
        "from numpy.random or random in a Map change with every run, so the pipeline is not "
        "reproducible and a run resumed from a checkpoint sees other data.",
        "Subclass grain.transforms.RandomMap and use the rng given to random_map(element, rng).",
    ),
    _c(
        "TSG651",
        "pydataset-no-super-init",
        "PyDataset subclass does not call super().__init__(**kwargs)",
        _S,
        _W,
        "workers, use_multiprocessing and max_queue_size are then ignored and the loader "
        "runs with one worker. Keras 3 only: a Sequence subclass in a file that targets "
        "Keras 2 (fit_generator, fit(workers=...), tf_keras) is fine, and where the file does "
        "not show which Keras it targets the finding is info and says so.",
        "Accept **kwargs and call super().__init__(**kwargs).",
        rows=("3b",),
    ),
    _c(
        "TSG652",
        "deprecated-generator-api",
        "Deprecated fit_generator/evaluate_generator/predict_generator",
        _S,
        _W,
        "These were removed in Keras 3 and deprecated in tf_keras.",
        "Call fit()/evaluate()/predict() with a PyDataset.",
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
    ),
    _c(
        "TSG751",
        "lock-around-getitem",
        "A lock is held around the whole __getitem__",
        _PF,
        _W,
        "Serialises all worker threads: workers>1 gives no speed-up.",
        "Lock only the shared part, or make __getitem__ lock-free.",
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
        rows=("2g'",),
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
        example="tsg852.txt",
    ),
)

#: Which module decides each code: the probe module of ``check_loader()`` or the lint rule
#: module that declares it in its ``CODES``. The registry cannot import those modules (they
#: import it), so tests/test_registry.py checks this table against their declarations.
DECIDED_BY: Mapping[str, str] = {
    "TSG101": "threadsafe_gen._probes.pickling",
    "TSG102": "threadsafe_gen._probes.pickling",
    "TSG103": "threadsafe_gen._probes.pickling",
    "TSG104": "threadsafe_gen._probes.spawn",
    "TSG151": "threadsafe_gen._lint.rules.pickling",
    "TSG152": "threadsafe_gen._lint.rules.frameworks",
    "TSG201": "threadsafe_gen._probes.inspection",
    "TSG202": "threadsafe_gen._probes.inspection",
    "TSG203": "threadsafe_gen._probes.fork",
    "TSG204": "threadsafe_gen._probes.inspection",
    "TSG251": "threadsafe_gen._lint.rules.fork",
    "TSG301": "threadsafe_gen._probes.threads",
    "TSG302": "threadsafe_gen._probes.threads",
    "TSG303": "threadsafe_gen._probes.state",
    "TSG304": "threadsafe_gen._probes.state",
    "TSG305": "threadsafe_gen._probes.sequential",
    "TSG306": "threadsafe_gen._probes.threads",
    "TSG351": "threadsafe_gen._lint.rules.threads",
    "TSG352": "threadsafe_gen._lint.rules.threads",
    "TSG353": "threadsafe_gen._lint.rules.threads",
    "TSG401": "threadsafe_gen._probes.duplicates",
    "TSG402": "threadsafe_gen._probes.inspection",
    "TSG403": "threadsafe_gen._probes.hosts",
    "TSG451": "threadsafe_gen._lint.rules.api",
    "TSG452": "threadsafe_gen._lint.rules.frameworks",
    "TSG501": "threadsafe_gen._probes.fork",
    "TSG502": "threadsafe_gen._probes.fork",
    "TSG503": "threadsafe_gen._probes.inspection",
    "TSG504": "threadsafe_gen._probes.grain_loader",
    "TSG551": "threadsafe_gen._lint.rules.rng",
    "TSG552": "threadsafe_gen._lint.rules.frameworks",
    "TSG601": "threadsafe_gen._probes.sequential",
    "TSG602": "threadsafe_gen._probes.structure",
    "TSG603": "threadsafe_gen._probes.structure",
    "TSG621": "threadsafe_gen._probes.structure",
    "TSG622": "threadsafe_gen._probes.structure",
    "TSG623": "threadsafe_gen._probes.structure",
    "TSG624": "threadsafe_gen._probes.structure",
    "TSG651": "threadsafe_gen._lint.rules.api",
    "TSG652": "threadsafe_gen._lint.rules.api",
    "TSG653": "threadsafe_gen._lint.rules.unused",
    "TSG701": "threadsafe_gen._probes.threads",
    "TSG702": "threadsafe_gen._probes.spawn",
    "TSG703": "threadsafe_gen._probes.inspection",
    "TSG721": "threadsafe_gen._probes.resources",
    "TSG722": "threadsafe_gen._probes.resources",
    "TSG723": "threadsafe_gen._probes.torch_loader",
    "TSG751": "threadsafe_gen._lint.rules.performance",
    "TSG801": "threadsafe_gen._probes.failures",
    "TSG802": "threadsafe_gen._probes.failures",
    "TSG821": "threadsafe_gen._probes.failures",
    "TSG822": "threadsafe_gen._probes.failures",
    "TSG851": "threadsafe_gen._lint.rules.scripts",
    "TSG852": "threadsafe_gen._lint.rules.files",
}

#: Every code, in order. The one place codes, titles, categories and severities live.
REGISTRY: Mapping[str, Check] = {c.code: c for c in _CHECKS}
if len(REGISTRY) != len(_CHECKS):  # pragma: no cover - a duplicated code is a programming error
    _msg = "duplicate code in threadsafe_gen._registry._CHECKS"
    raise RuntimeError(_msg)
