"""``check_loader()``: a bounded dry run of a loader the way workers>1 will run it.

The orchestrator validates the options (:class:`CheckOptions`), works out what kind of loader
it was given, its length and which worker settings to assume, builds a
:class:`~threadsafe_gen._probes.ProbeContext`, and runs the probes of :data:`PROBES` in order,
timing each one. The order is the dependency order of what probes record for each other
(:class:`~threadsafe_gen._probes.ProbeState`):

1. the in-process probes: ``sequential`` first (its pass is what the others compare with),
   then ``structure``, ``state``, ``resources``, ``order``, ``threads`` and ``duplicates``
   (which needs the threads probe's run);
2. ``pickling``: it only pickles, never calls the loader;
3. the process probes: ``fork_dry_run``, ``process_inspection`` (which reads whether the
   fork dry run was clean) and ``spawn_dry_run``. Where child processes cannot be started,
   a ``skipped`` ProbeResult says so.

Safety (see NOTE [ In-process crash and hang safety ] in ``_probes/sequential.py``): a forked
canary runs the sequential indices first, so a loader that kills its process is reported
(TSG821) instead of killing the caller; every in-process call runs on a daemon thread with a
per-call timeout, so a hanging ``__getitem__`` becomes a TSG801 finding and later in-process
probes are skipped. ``len(loader)``, pickling the loader and a generator's first item run
on helper threads too. Only Keras' two "peek" calls (``loader[0]`` and ``loader[1]``) run on
the calling thread, as Keras runs them, and only after a forked copy showed they return (the
same holds for re-running a failed call there, to tell a thread-bound resource). Every wait
is cut at the deadline, so the whole check takes at most ``timeout`` plus a few seconds for
reaping child processes, whatever the loader does; the child processes exit by themselves
if the checking process dies. A probe that raises is recorded as ``failed`` and never reaches
the caller. Probes that could not start before the budget ran out are listed in a TSG802
finding.

Severity rule for problems that only spawn/forkserver workers have (pickling, import by
name): error when the planned workers are processes started with spawn or forkserver,
warning otherwise (fork processes or threads: "fails on Windows, macOS, and on Linux from
Python 3.14" once the loader runs in process workers there).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import math
import multiprocessing
import pickle
import platform
import sys
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from multiprocessing.reduction import ForkingPickler
from typing import Any, Literal

import numpy as np

from ._finding import Finding, ProbeResult
from ._frameworks import framework_kind
from ._probes import (
    duplicates,
    failures,
    fork,
    grain_loader,
    hosts,
    inspection,
    pickling,
    resources,
    sequential,
    spawn,
    state,
    structure,
    threads,
    torch_loader,
)
from ._probes._calls import call_once
from ._probes._context import Probe, ProbeContext, ProbeFunction, dedupe
from ._registry import REGISTRY
from ._report import LoaderReport
from ._text import short_repr

__all__ = ["DEFAULT_MAX_BATCHES", "PROBES", "CheckOptions", "check_loader", "run_check"]

#: Batches probed when ``max_batches`` is not given (sequences: a spread of indices
#: including the first two and the last two; generators: the first items).
DEFAULT_MAX_BATCHES = 64

#: Every probe, in the order check_loader runs them: a probe reads only what the probes
#: before it record (each Probe declares what it needs, reads and records).
PROBES: tuple[Probe, ...] = (
    *sequential.PROBES,  # records the pass every later in-process probe compares with
    *structure.PROBES,
    *state.PROBES,  # records results_changed, which threads reads
    *resources.PROBES,
    *threads.PROBES,  # order records random/order_dependent; threads reads them, records its run
    *duplicates.PROBES,  # reads the threads probe's run: after it
    *hosts.PROBES,  # runs only with hosts=N: one pass per simulated host
    *pickling.PROBES,  # records unpicklable, which the spawn dry run reads
    *fork.PROBES,  # first process probe: its parent calls open lazy handles, as Keras' peek does
    *inspection.PROBES,  # reads fork_clean: after the fork dry run
    *spawn.PROBES,  # reads the parent pass and unpicklable
)

#: The modules that decide finding codes, each with its ``CODES``.
DECIDERS = (
    sequential,
    structure,
    state,
    resources,
    threads,
    duplicates,
    hosts,
    pickling,
    fork,
    inspection,
    spawn,
    failures,
    torch_loader,  # PyTorch and Grain loaders: their own probes, with their own workers
    grain_loader,
)

#: Codes the orchestrator decides itself (its budget finding is built by ``failures``).
CODES: frozenset[str] = frozenset()

_PROCESS_PROBES = (*fork.PROBES, *inspection.PROBES, *spawn.PROBES)

_ACCEPTED = (
    "a Keras 3 PyDataset, a tf_keras/Keras 2 Sequence (or ImageDataGenerator().flow(...)), "
    "any object with __len__ and __getitem__, an iterator or generator object, a generator "
    "function taking no arguments, a threadsafe_gen wrapper, a PyTorch DataLoader or Dataset, "
    "or a Grain DataLoader, MapDataset or IterDataset"
)


# --- options ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CheckOptions:
    """The options of ``check_loader()``, validated once (see its docstring for each).

    ``None`` means "the default": the loader's own setting for ``workers`` and
    ``use_multiprocessing``, multiprocessing's start method, :data:`DEFAULT_MAX_BATCHES`,
    ``min(10, timeout / 4)`` for ``batch_timeout`` and every probe for ``probes``. So two
    sources of options (a config file and the command line) merge with
    ``dataclasses.replace``.

    Raises:
        TypeError: an option has the wrong type.
        ValueError: an option is out of range, or names an unknown start method, finding
            code or probe.
    """

    workers: int | None = None
    use_multiprocessing: bool | None = None
    start_method: str | None = None
    max_batches: int | None = None
    timeout: float = 60.0
    batch_timeout: float | None = None
    ignore: Collection[str] = frozenset()
    probes: Sequence[str | ProbeFunction] | None = None
    hosts: int | None = None

    def __post_init__(self) -> None:
        _validate_number("timeout", self.timeout, minimum=0.0, exclusive=True)
        if self.batch_timeout is not None:
            _validate_number("batch_timeout", self.batch_timeout, minimum=0.0, exclusive=True)
        if self.max_batches is not None:
            _validate_int("max_batches", self.max_batches, minimum=1)
        object.__setattr__(self, "ignore", _validate_ignore(self.ignore))
        if self.workers is not None:
            _validate_int("workers", self.workers, minimum=1)
        if self.use_multiprocessing is not None:
            _validate_bool("use_multiprocessing", self.use_multiprocessing)
        if self.start_method is not None:
            _validate_start_method(self.start_method)
        if self.probes is not None:
            object.__setattr__(self, "probes", _validate_probes(self.probes))
        if self.hosts is not None:
            _validate_int("hosts", self.hosts, minimum=1)

    @property
    def batches(self) -> int:
        """``max_batches``, or its default."""
        return DEFAULT_MAX_BATCHES if self.max_batches is None else int(self.max_batches)

    @property
    def call_timeout(self) -> float:
        """``batch_timeout``, or its default ``min(10, timeout / 4)``."""
        if self.batch_timeout is None:
            return min(10.0, self.timeout / 4)
        return float(self.batch_timeout)


def _validate_number(name: str, value: Any, *, minimum: float, exclusive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"check_loader() expected {name} to be a number of seconds, got {value!r} (type={type(value).__name__})"
        raise TypeError(msg)
    if math.isnan(value) or value < minimum or (exclusive and value == minimum):
        msg = f"check_loader() expected {name} > {minimum:g}, got {value!r}"
        raise ValueError(msg)


def _validate_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        msg = f"check_loader() expected {name} to be a bool, got {value!r} (type={type(value).__name__})"
        raise TypeError(msg)


def _validate_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        msg = f"check_loader() expected {name} to be an int, got {value!r} (type={type(value).__name__})"
        raise TypeError(msg)
    if value < minimum:
        msg = f"check_loader() expected {name} >= {minimum}, got {value!r}"
        raise ValueError(msg)


def _validate_ignore(ignore: Iterable[Any]) -> frozenset[str]:
    if isinstance(ignore, str):
        ignore = [ignore]  # ignore="TSG103" is a common slip; accept it
    codes = set()
    for code in ignore:
        if not isinstance(code, str):
            msg = f"check_loader() expected ignore to hold finding codes like 'TSG103', got {code!r} (type={type(code).__name__})"
            raise TypeError(msg)
        key = code.strip().upper()
        if key not in REGISTRY:
            close = difflib.get_close_matches(key, list(REGISTRY), n=3)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            msg = f"check_loader() got an unknown finding code {code!r} in ignore=.{hint} The codes are listed in threadsafe_gen.REGISTRY."
            raise ValueError(msg)
        codes.add(key)
    return frozenset(codes)


def _validate_start_method(start_method: str) -> None:
    available = multiprocessing.get_all_start_methods()
    if start_method not in ("fork", "spawn", "forkserver"):
        msg = f"check_loader() expected start_method to be 'fork', 'spawn' or 'forkserver', got {start_method!r}"
        raise ValueError(msg)
    if start_method not in available:
        msg = f"check_loader() got start_method={start_method!r}, which this platform does not support (available: {', '.join(available)})"
        raise ValueError(msg)


def _validate_probes(wanted: Iterable[str | ProbeFunction]) -> tuple[str | ProbeFunction, ...]:
    items = (wanted,) if isinstance(wanted, str) else tuple(wanted)
    names = sorted(
        {p.name for p in _available_probes()}
        | {*torch_loader.PROBE_NAMES, *grain_loader.PROBE_NAMES}
    )
    for item in items:
        if callable(item):
            continue
        if not isinstance(item, str) or item not in names:
            close = difflib.get_close_matches(str(item), names, n=2)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            msg = f"check_loader() got an unknown probe {item!r}.{hint} Known probes: {', '.join(names)}."
            raise ValueError(msg)
    return items


def _resolve_start_method(start_method: str | None) -> str:
    if start_method is not None:
        return start_method
    return (
        multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_context().get_start_method()
    )


# --- check_loader ---------------------------------------------------------------------------------


def check_loader(
    loader: Any,
    *,
    workers: int | None = None,
    use_multiprocessing: bool | None = None,
    start_method: str | None = None,
    max_batches: int | None = None,
    timeout: float = 60.0,
    batch_timeout: float | None = None,
    ignore: Iterable[str] = (),
    probes: Iterable[str | ProbeFunction] | None = None,
    hosts: int | None = None,
) -> LoaderReport:
    """Dry-run *loader* the way ``workers`` threads or processes would, and report every problem.

    Use it in a test (``check_loader(ds, workers=4).raise_for_errors()``) or before a long
    training run: in seconds it finds what workers>1 would break silently or after hours
    (unpicklable members, state shared between calls, reused buffers, identical "random"
    augmentations in forked workers, batches that hang or kill their worker, ...). Each
    finding has a stable code (see ``threadsafe_gen.REGISTRY``), a path into the loader and a
    fix.

    The check runs the loader: a sequence is indexed up to ``max_batches`` times per pass
    (several passes), a generator function is called again for each pass, and an iterator
    object is consumed (up to ``max_batches`` items), so pass the generator *function* when
    the iterator must stay usable. Calls run on helper threads and in forked children, never
    longer than ``batch_timeout`` each; a call that hangs is abandoned on a daemon thread.
    Not thread-safe: the threads probe changes the interpreter's switch interval while it
    runs, so run one check at a time.

    Args:
        loader: a Keras 3 PyDataset, a tf_keras Sequence (also ``ImageDataGenerator().flow``),
            any object with ``__len__`` and ``__getitem__``, an iterator or generator object,
            a generator function taking no arguments, or a threadsafe_gen wrapper. Also a
            PyTorch ``DataLoader`` / ``Dataset`` or a Grain ``DataLoader`` / ``MapDataset`` /
            ``IterDataset``: run with the framework's own workers and its own settings
            (docs/how-to/pytorch-and-grain.md).
        workers: planned number of workers; defaults to the loader's own ``workers`` (a
            PyDataset's), else 1.
        use_multiprocessing: whether the workers are processes; defaults to the loader's own
            setting, else False.
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"``; defaults to what
            multiprocessing uses on this Python. Problems only spawn/forkserver workers have
            (pickling, import by name) are reported whatever it is: as errors when the
            workers are processes started with spawn/forkserver, else as warnings (they
            fail on Windows, macOS, and on Linux from Python 3.14).
        max_batches: batches per pass (default 64).
        timeout: total budget in seconds; probes that cannot start in time are listed in a
            TSG802 finding.
        batch_timeout: limit per call in seconds (default ``min(10, timeout / 4)``).
        ignore: finding codes to leave out of the report, e.g. ``["TSG103"]``.
        probes: run only these probes, by name (``"sequential"``, ``"structure"``,
            ``"state"``, ``"resources"``, ``"order"``, ``"threads"``, ``"duplicates"``,
            ``"hosts"``, ``"pickling"`` or a process probe's name), or custom probe functions
            ``probe(ctx) -> list[Finding]``. ``"sequential"`` runs whenever another
            in-process probe does, since they read its results.
        hosts: simulate a run on this many hosts (machines): the ``hosts`` probe runs the
            loader once as each host, with the host identity that
            :func:`threadsafe_gen.host_info`, ``worker_info()`` and ``shard()`` give there,
            and reports TSG403 when the hosts would read the same items. None or 1: no
            simulation.

    Returns:
        A :class:`~threadsafe_gen.LoaderReport`: ``.findings``, ``.ok``,
        ``.raise_for_errors()``, ``.probes`` (timing per probe), ``.notes`` (why a step was
        skipped), ``str()`` for people and ``.to_json()`` for machines.

    Raises:
        TypeError: *loader* is not one of the accepted kinds (the message says what is), or an
            option has the wrong type.
        ValueError: an option is out of range, an unknown start method or finding code.

    >>> class Squares:
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         x = np.arange(i * 8, i * 8 + 8, dtype="float32").reshape(8, 1)
    ...         return x, x**2
    >>> report = check_loader(Squares(), workers=2, probes=["sequential", "threads"])
    >>> report.ok
    True
    """
    t_start = time.monotonic()
    options = CheckOptions(
        workers=workers,
        use_multiprocessing=use_multiprocessing,
        start_method=start_method,
        max_batches=max_batches,
        timeout=timeout,
        batch_timeout=batch_timeout,
        ignore=(ignore,) if isinstance(ignore, str) else tuple(ignore),
        probes=None if probes is None or isinstance(probes, str) else tuple(probes),
        hosts=hosts,
    )
    return run_check(loader, options, t_start=t_start)


def run_check(loader: Any, options: CheckOptions, *, t_start: float | None = None) -> LoaderReport:
    """Run the check of *loader* with validated *options* (``check_loader()``'s body)."""
    t_start = time.monotonic() if t_start is None else t_start
    framework = framework_kind(loader)  # first: a torch Dataset or Grain MapDataset has __getitem__
    if framework is None:
        ctx, early = _make_context(loader, options, t_start)
        selected = _select_probes(options.probes)
    else:
        module = torch_loader if framework.startswith("torch") else grain_loader
        ctx, early = (
            module.make_context(
                loader,
                framework,
                workers=options.workers,
                start_method=options.start_method,
                max_batches=options.batches,
                batch_timeout=options.call_timeout,
                deadline=t_start + float(options.timeout),
            ),
            [],
        )
        selected = module.select_probes(options.probes)
    findings, results, skipped = _run_probes(ctx, selected)
    findings = early + findings
    if skipped or ctx.state.cut_short:
        findings.append(failures.budget_finding(options.timeout, skipped, ctx.state.cut_short))
    findings = dedupe(f for f in findings if f.code not in options.ignore)
    settings = _settings(ctx, options, t_start)
    if framework is not None:
        settings.update(kind=framework, **module.report_settings(ctx))
    return LoaderReport(
        findings=findings,
        probes=results,
        settings=settings,
        loader=_describe(loader, ctx.kind, ctx.length),
        notes=list(ctx.state.notes),
    )


def _settings(ctx: ProbeContext, options: CheckOptions, t_start: float) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "workers": ctx.workers,
        "use_multiprocessing": ctx.use_multiprocessing,
        "start_method": ctx.start_method,
        "kind": ctx.kind,
        "batches": len(ctx.indices) if ctx.kind == "sequence" else ctx.max_batches,
        "timeout": options.timeout,
        "python": platform.python_version(),
        "seconds": round(time.monotonic() - t_start, 2),
    }
    if ctx.length is not None:
        settings["len"] = ctx.length
    if options.ignore:
        settings["ignore"] = sorted(options.ignore)
    return settings


def _make_context(
    loader: Any, options: CheckOptions, t_start: float
) -> tuple[ProbeContext, list[Finding]]:
    """The ProbeContext for *loader* (its kind, length, the worker settings to assume), and
    a TSG801 finding when ``len(loader)`` does not return."""
    deadline = t_start + float(options.timeout)

    def limit() -> float:
        return max(0.0, min(options.call_timeout, deadline - time.monotonic()))

    kind, make_iterator = _classify(loader, limit)
    length = len_error = None
    len_hung = False
    if kind == "sequence":
        measured = call_once(functools.partial(_measure_length, loader), limit())
        if measured is None:
            len_hung = True
        elif measured.error is not None:
            raise measured.error  # the TypeError for a length that is not an int >= 0
        else:
            length, len_error = measured.value
    workers = options.workers
    if workers is None:
        workers = _loader_setting(loader, "workers", 1)
        _validate_int("workers", workers, minimum=1)
    use_multiprocessing = options.use_multiprocessing
    if use_multiprocessing is None:
        use_multiprocessing = bool(_loader_setting(loader, "use_multiprocessing", False))
    max_batches = options.batches
    indices = _spread(length, max_batches) if kind == "sequence" else []
    ctx = ProbeContext(
        loader=loader,
        kind=kind,
        workers=int(workers),
        use_multiprocessing=use_multiprocessing,
        start_method=_resolve_start_method(options.start_method),
        indices=indices[:2] if len_hung else indices,  # no length: only Keras' peek
        make_iterator=make_iterator,
        max_batches=max_batches,
        batch_timeout=options.call_timeout,
        deadline=deadline,
        length=length,
        len_error=len_error,
        hosts=int(options.hosts or 1),
    )
    return ctx, [failures.len_hang_finding(ctx)] if len_hung else []


def _has(obj: Any, name: str) -> bool:
    """``hasattr`` that survives a ``__getattr__`` raising something else than AttributeError."""
    try:
        return hasattr(obj, name)
    except Exception:
        return False


def _attr(obj: Any, name: str, default: Any) -> Any:
    """``getattr`` with a default for any exception (a property or ``__getattr__`` that raises)."""
    try:
        return getattr(obj, name, default)
    except Exception:
        return default


def _loader_setting(loader: Any, name: str, default: Any) -> Any:
    """A PyDataset's own workers / use_multiprocessing, read without triggering its warnings."""
    private = _attr(loader, f"_{name}", None)
    if private is not None and not callable(private):
        return private
    if isinstance(loader, type) or inspect.isfunction(loader):
        return default
    with warnings.catch_warnings():
        # Keras warns from these getters when super().__init__() was not called.
        warnings.simplefilter("ignore")
        value = _attr(loader, name, None)
    if name == "workers" and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if name == "use_multiprocessing" and isinstance(value, bool):
        return value
    return default


# --- the loader ------------------------------------------------------------------------------------


_Kind = Literal["sequence", "generator"]


def _classify(
    loader: Any, limit: Callable[[], float]
) -> tuple[_Kind, Callable[[], Iterator[Any]] | None]:
    """(kind, make_iterator) for *loader*, or a TypeError naming what is accepted.

    *limit* gives the seconds a call of the loader's own code may take here (an iterator
    object is pickled to be copied).
    """
    if isinstance(loader, type):
        msg = f"check_loader() got the class {loader.__qualname__}, not a loader; did you mean {loader.__qualname__}(...)? It accepts {_ACCEPTED}."
        raise TypeError(msg)
    if _is_generator_function(loader):
        _require_no_args(loader)
        return "generator", loader
    if isinstance(loader, (str, bytes, bytearray, Mapping, np.ndarray)):
        what = (
            "an array holds data, not batches"
            if isinstance(loader, np.ndarray)
            else "this is data, not a loader"
        )
        msg = f"check_loader() expected a loader, got {short_repr(loader, 80)} (type={type(loader).__name__}): {what}. It accepts {_ACCEPTED}."
        raise TypeError(msg)
    if _has(loader, "__getitem__") and (
        _has(loader, "__len__") or _num_batches(loader) is not None
    ):
        return "sequence", None
    if _has(loader, "__next__") and _has(loader, "__iter__"):
        return "generator", _copier(loader, limit())
    if _has(loader, "__iter__"):
        return "generator", functools.partial(iter, loader)
    if callable(loader):
        msg = f"check_loader() got the callable {short_repr(loader, 80)}, which is not a generator function; did you mean to pass what it returns (check_loader({_attr(loader, '__name__', 'f')}()))? It accepts {_ACCEPTED}."
        raise TypeError(msg)
    msg = f"check_loader() expected a loader, got {short_repr(loader, 80)} (type={type(loader).__name__}). It accepts {_ACCEPTED}."
    raise TypeError(msg)


def _is_generator_function(obj: Any) -> bool:
    if not callable(obj):
        return False
    target = obj.func if isinstance(obj, functools.partial) else obj
    try:
        target = inspect.unwrap(target)
    except ValueError:
        return False
    return inspect.isgeneratorfunction(target)


def _require_no_args(func: Callable[..., Any]) -> None:
    try:
        inspect.signature(func).bind()
    except TypeError as exc:
        name = getattr(func, "__qualname__", repr(func))
        msg = f"check_loader() calls a generator function with no arguments to make each iterator, but {name}() needs arguments ({exc}); pass functools.partial({name}, ...) instead"
        raise TypeError(msg) from exc
    except ValueError:
        return  # no signature (a builtin): try it


def _copier(iterator: Any, limit: float) -> Callable[[], Iterator[Any]] | None:
    """A factory of fresh copies of *iterator* if it pickles (unstarted wrappers do), else None.

    The pickling runs on a helper thread for at most *limit* seconds: a ``__getstate__``
    that blocks must not block the check (the pickling probe then reports it).
    """
    out = call_once(functools.partial(_pickled_copy, iterator), limit)
    if out is None or out.error is not None:
        return None
    payload: bytes = out.value

    def make() -> Iterator[Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return iter(pickle.loads(payload))

    return make


def _pickled_copy(iterator: Any) -> bytes:
    """*iterator* pickled with multiprocessing's pickler (and unpickled once, to be sure)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        payload = bytes(ForkingPickler.dumps(iterator))
        pickle.loads(payload)
    return payload


def _num_batches(loader: Any) -> int | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = getattr(loader, "num_batches", None)
    except Exception:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _measure_length(loader: Any) -> tuple[int | None, str | None]:
    """(len(loader), or its num_batches when len() raises; what len() raised when neither works)."""
    n: Any
    try:
        n = len(loader)
    except Exception as exc:
        n = _num_batches(loader)
        if n is None:
            has_len = _has(loader, "__len__")
            return None, f"{type(exc).__name__}: {exc}" if has_len else None
    if not isinstance(n, int) or n < 0:
        msg = f"check_loader() expected len(loader) to be an int >= 0, got {n!r}"
        raise TypeError(msg)
    return n, None


def _spread(length: int | None, max_batches: int) -> list[int]:
    """Indices to probe: all of them, or the first two, the last two and an even spread."""
    if length is None:
        return list(range(max_batches))  # num_batches None: an infinite PyDataset
    if length <= max_batches:
        return list(range(length))
    ends = [0, length - 1, 1, length - 2]
    if max_batches <= len(ends):
        return sorted(ends[:max_batches])
    # length > max_batches, so the step between middle points is >= 1 and rounding keeps
    # them distinct.
    middle = np.linspace(2, length - 3, max_batches - len(ends))
    return sorted(set(ends) | {round(float(v)) for v in middle})


def _describe(loader: Any, kind: str, length: int | None) -> str:
    if inspect.isfunction(loader) or isinstance(loader, functools.partial):
        func = loader.func if isinstance(loader, functools.partial) else loader
        return f"generator function {func.__module__}.{func.__qualname__}"
    t = type(loader)
    name = f"{t.__module__}.{t.__qualname__}"
    if kind == "sequence":
        return f"{name} (len={length})" if length is not None else f"{name} (no len)"
    return name


# --- probes --------------------------------------------------------------------------------------------


def _process_probes() -> tuple[tuple[Probe, ...], str | None]:
    """The process probes, or none and why (a platform that cannot start child processes)."""
    if sys.platform in ("emscripten", "wasi") or not multiprocessing.get_all_start_methods():
        return (), "process probes unavailable: this platform cannot start child processes"
    return _PROCESS_PROBES, None


def _available_probes() -> list[Probe]:
    """Every probe this platform runs, in order; a placeholder for missing process probes."""
    procs, missing = _process_probes()
    ordered = [p for p in PROBES if p not in _PROCESS_PROBES] + list(procs)
    if missing is not None:
        ordered.append(Probe("processes", _skipped(missing)))
    return ordered


def _skipped(note: str) -> ProbeFunction:
    def processes(ctx: ProbeContext) -> list[Finding]:
        raise _Skip(note)

    return processes


class _Skip(Exception):
    pass


def _select_probes(wanted: Sequence[str | ProbeFunction] | None) -> list[Probe]:
    """The probes to run, in order: the chosen ones and those recording what they need."""
    available = _available_probes()
    if wanted is None:
        return available
    chosen = {item for item in wanted if isinstance(item, str)}
    for probe in [p for p in available if p.name in chosen]:
        for needed in probe.needs:
            recorder = next(p for p in available if needed in p.records)
            chosen.add(recorder.name)
    custom = [Probe(_probe_name(item), item) for item in wanted if callable(item)]
    return [p for p in available if p.name in chosen] + custom


def _probe_name(probe: ProbeFunction) -> str:
    name = getattr(probe, "__name__", type(probe).__name__)
    return str(name).removeprefix("probe_")


def _run_probes(
    ctx: ProbeContext, selected: list[Probe]
) -> tuple[list[Finding], list[ProbeResult], list[str]]:
    """Run *selected* in order: (findings, one result per probe, probes the budget skipped)."""
    findings: list[Finding] = []
    results: list[ProbeResult] = []
    skipped: list[str] = []
    for probe in selected:
        if ctx.remaining() <= 0:
            skipped.append(probe.name)
            results.append(ProbeResult(probe.name, "skipped", 0.0, "time budget exhausted"))
            continue
        if probe.in_process and ctx.state.inprocess_unsafe:
            note = f"not run: {ctx.state.inprocess_unsafe}"
            results.append(ProbeResult(probe.name, "skipped", 0.0, note))
            continue
        result, found = _run_one(ctx, probe)
        results.append(result)
        findings += found
    return findings, results, skipped


def _run_one(ctx: ProbeContext, probe: Probe) -> tuple[ProbeResult, list[Finding]]:
    """Run one probe; its exception becomes a ``failed`` result, never the caller's."""
    t0 = time.perf_counter()
    try:
        found = probe.run(ctx)
    except _Skip as exc:
        return ProbeResult(probe.name, "skipped", 0.0, str(exc)), []
    except Exception as exc:  # a probe's bug must never break the caller's check
        note = f"the probe raised {type(exc).__name__}: {exc}"
        return ProbeResult(probe.name, "failed", time.perf_counter() - t0, note), []
    seconds = time.perf_counter() - t0
    status: Literal["ran", "timeout"] = (
        "timeout" if any(f.code == "TSG801" for f in found) else "ran"
    )
    note = probe.note(ctx) if probe.note is not None else ""
    return ProbeResult(probe.name, status, seconds, note), found
