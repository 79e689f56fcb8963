"""``check_loader()``: a bounded dry run of a loader the way workers>1 will run it.

The orchestrator validates the options, works out what kind of loader it was given and which
worker settings to assume, builds a :class:`~threadsafe_gen._probes.ProbeContext`, and runs
the probes in order, timing each one:

1. in-process probes (``_probes/inprocess.py``): the sequential pass first (its fingerprints go
   to ``ctx.shared["sequential"]``), then structure, state, resources, order, threads and
   duplicates;
2. the pickling probe (``_probes/pickling.py``): it only pickles, never calls the loader;
3. the process probes (``_probes/processes.PROBES``): fork, spawn and forkserver dry runs in
   child processes. If that module is missing, a ``skipped`` ProbeResult says so.

Safety (see NOTE [ In-process crash and hang safety ] in ``_probes/inprocess.py``): a forked
canary runs the sequential indices first, so a loader that kills its process is reported
(TSG821) instead of killing the caller; every in-process call runs on a daemon thread with a
per-call timeout, so a hanging ``__getitem__`` becomes a TSG801 finding and later in-process
probes are skipped. Only Keras' two "peek" calls (``loader[0]`` and ``loader[1]``) run on
the calling thread, as Keras runs them, and only after the canary showed they return. Every
wait is cut at the deadline, so the whole check takes at most ``timeout`` plus a few seconds
for reaping child processes. A probe that raises is
recorded as ``failed`` and never reaches the caller. Probes that could not start before the
budget ran out are listed in a TSG802 finding.

Severity rule for problems that only spawn/forkserver workers have (pickling, import by
name): error when the planned workers are processes started with spawn or forkserver,
warning otherwise (fork processes or threads: "fails on Windows, macOS, and on Linux from
Python 3.14" once the loader runs in process workers there).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import multiprocessing
import pickle
import platform
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from multiprocessing.reduction import ForkingPickler
from typing import Any, Literal

import numpy as np

from ._findings import REGISTRY, Finding, LoaderReport, ProbeResult, make_finding
from ._probes import ProbeContext
from ._probes import inprocess as _inprocess
from ._probes import pickling as _pickling

__all__ = ["DEFAULT_MAX_BATCHES", "check_loader"]

#: Batches probed when ``max_batches`` is not given (sequences: a spread of indices
#: including the first two and the last two; generators: the first items).
DEFAULT_MAX_BATCHES = 64

Probe = Callable[[ProbeContext], list[Finding]]

_ACCEPTED = (
    "a Keras 3 PyDataset, a tf_keras/Keras 2 Sequence (or ImageDataGenerator().flow(...)), "
    "any object with __len__ and __getitem__, an iterator or generator object, a generator "
    "function taking no arguments, or a threadsafe_gen wrapper"
)


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
    probes: Iterable[str | Probe] | None = None,
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
            a generator function taking no arguments, or a threadsafe_gen wrapper.
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
            ``"pickling"`` or a process probe's name), or custom probe functions
            ``probe(ctx) -> list[Finding]``. ``"sequential"`` runs whenever another
            in-process probe does, since they read its results.

    Returns:
        A :class:`~threadsafe_gen.LoaderReport`: ``.findings``, ``.ok``,
        ``.raise_for_errors()``, ``.probes`` (timing per probe), ``str()`` for people and
        ``.to_json()`` for machines.

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
    _validate_number("timeout", timeout, minimum=0.0, exclusive=True)
    if batch_timeout is None:
        batch_timeout = min(10.0, timeout / 4)
    _validate_number("batch_timeout", batch_timeout, minimum=0.0, exclusive=True)
    if max_batches is None:
        max_batches = DEFAULT_MAX_BATCHES
    _validate_int("max_batches", max_batches, minimum=1)
    ignored = _validate_ignore(ignore)
    kind, make_iterator, length = _classify(loader)
    if workers is None:
        workers = _loader_setting(loader, "workers", 1)
    _validate_int("workers", workers, minimum=1)
    if use_multiprocessing is None:
        use_multiprocessing = bool(_loader_setting(loader, "use_multiprocessing", False))
    _validate_bool("use_multiprocessing", use_multiprocessing)
    start_method = _resolve_start_method(start_method)
    indices = _spread(length, max_batches) if kind == "sequence" else []
    ctx = ProbeContext(
        loader=loader,
        kind=kind,
        workers=workers,
        use_multiprocessing=use_multiprocessing,
        start_method=start_method,
        indices=indices,
        make_iterator=make_iterator,
        max_batches=max_batches,
        batch_timeout=float(batch_timeout),
        deadline=t_start + float(timeout),
    )
    ctx.shared["creator_thread"] = threading.get_ident()
    if kind == "sequence" and length is None and hasattr(loader, "__len__"):
        ctx.shared["len_error"] = _len_error(loader)
    selected = _select_probes(probes)
    findings: list[Finding] = []
    results: list[ProbeResult] = []
    skipped: list[str] = []
    for name, probe, in_process in selected:
        if ctx.remaining() <= 0:
            skipped.append(name)
            results.append(ProbeResult(name, "skipped", 0.0, "time budget exhausted"))
            continue
        if in_process and ctx.shared.get("inprocess_unsafe"):
            results.append(
                ProbeResult(name, "skipped", 0.0, f"not run: {ctx.shared['inprocess_unsafe']}")
            )
            continue
        t0 = time.perf_counter()
        try:
            found = probe(ctx)
        except _Skip as exc:
            results.append(ProbeResult(name, "skipped", 0.0, str(exc)))
            continue
        except Exception as exc:  # a probe's bug must never break the caller's check
            results.append(
                ProbeResult(
                    name,
                    "failed",
                    time.perf_counter() - t0,
                    f"the probe raised {type(exc).__name__}: {exc}",
                )
            )
            continue
        seconds = time.perf_counter() - t0
        timed_out = any(f.code == "TSG801" for f in found)
        results.append(
            ProbeResult(name, "timeout" if timed_out else "ran", seconds, _note(name, ctx))
        )
        findings.extend(found)
    cut_short = ctx.shared.get("cut_short")
    if skipped or cut_short:
        parts = [f"{cut_short}"] if cut_short else []
        if skipped:
            parts.append(f"{len(skipped)} probes could not start: {', '.join(skipped)}")
        findings.append(
            make_finding(
                "TSG802",
                path="check_loader",
                message=f"the budget of timeout={timeout:g} s ran out: {'; '.join(parts)}",
                details={"skipped": skipped, "cut_short": cut_short, "timeout": timeout},
            )
        )
    findings = _dedupe(f for f in findings if f.code not in ignored)
    settings: dict[str, Any] = {
        "workers": workers,
        "use_multiprocessing": use_multiprocessing,
        "start_method": start_method,
        "kind": kind,
        "batches": len(indices) if kind == "sequence" else max_batches,
        "timeout": timeout,
        "python": platform.python_version(),
        "seconds": round(time.monotonic() - t_start, 2),
    }
    if length is not None:
        settings["len"] = length
    if ignored:
        settings["ignore"] = sorted(ignored)
    return LoaderReport(
        findings=findings, probes=results, settings=settings, loader=_describe(loader, kind)
    )


# --- options ------------------------------------------------------------------------------------


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


def _resolve_start_method(start_method: str | None) -> str:
    available = multiprocessing.get_all_start_methods()
    if start_method is None:
        return (
            multiprocessing.get_start_method(allow_none=True)
            or multiprocessing.get_context().get_start_method()
        )
    if start_method not in ("fork", "spawn", "forkserver"):
        msg = f"check_loader() expected start_method to be 'fork', 'spawn' or 'forkserver', got {start_method!r}"
        raise ValueError(msg)
    if start_method not in available:
        msg = f"check_loader() got start_method={start_method!r}, which this platform does not support (available: {', '.join(available)})"
        raise ValueError(msg)
    return start_method


def _loader_setting(loader: Any, name: str, default: Any) -> Any:
    """A PyDataset's own workers / use_multiprocessing, read without triggering its warnings."""
    private = getattr(loader, f"_{name}", None)
    if private is not None and not callable(private):
        return private
    if isinstance(loader, type) or inspect.isfunction(loader):
        return default
    with warnings.catch_warnings():
        # Keras warns from these getters when super().__init__() was not called.
        warnings.simplefilter("ignore")
        try:
            value = getattr(loader, name, None)
        except Exception:
            value = None
    if name == "workers" and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if name == "use_multiprocessing" and isinstance(value, bool):
        return value
    return default


# --- the loader ------------------------------------------------------------------------------------


def _classify(
    loader: Any,
) -> tuple[Literal["sequence", "generator"], Callable[[], Iterator[Any]] | None, int | None]:
    """(kind, make_iterator, length) for *loader*, or a TypeError naming what is accepted."""
    if isinstance(loader, type):
        msg = f"check_loader() got the class {loader.__qualname__}, not a loader; did you mean {loader.__qualname__}(...)? It accepts {_ACCEPTED}."
        raise TypeError(msg)
    if _is_generator_function(loader):
        _require_no_args(loader)
        return "generator", loader, None
    if isinstance(loader, (str, bytes, bytearray, Mapping, np.ndarray)):
        what = (
            "an array holds data, not batches"
            if isinstance(loader, np.ndarray)
            else "this is data, not a loader"
        )
        msg = f"check_loader() expected a loader, got {_short(loader)} (type={type(loader).__name__}): {what}. It accepts {_ACCEPTED}."
        raise TypeError(msg)
    if hasattr(loader, "__getitem__") and (
        hasattr(loader, "__len__") or _num_batches(loader) is not None
    ):
        return "sequence", None, _length(loader)
    if hasattr(loader, "__next__") and hasattr(loader, "__iter__"):
        return "generator", _copier(loader), None
    if hasattr(loader, "__iter__"):
        return "generator", functools.partial(iter, loader), None
    if callable(loader):
        msg = f"check_loader() got the callable {_short(loader)}, which is not a generator function; did you mean to pass what it returns (check_loader({getattr(loader, '__name__', 'f')}()))? It accepts {_ACCEPTED}."
        raise TypeError(msg)
    msg = f"check_loader() expected a loader, got {_short(loader)} (type={type(loader).__name__}). It accepts {_ACCEPTED}."
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


def _copier(iterator: Any) -> Callable[[], Iterator[Any]] | None:
    """A factory of fresh copies of *iterator* if it pickles (unstarted wrappers do), else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            payload = bytes(ForkingPickler.dumps(iterator))
            pickle.loads(payload)
    except Exception:
        return None

    def make() -> Iterator[Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return iter(pickle.loads(payload))

    return make


def _num_batches(loader: Any) -> int | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = getattr(loader, "num_batches", None)
    except Exception:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _length(loader: Any) -> int | None:
    n: Any
    try:
        n = len(loader)
    except Exception:
        n = _num_batches(loader)
    if n is None:
        return None
    if not isinstance(n, int) or n < 0:
        msg = f"check_loader() expected len(loader) to be an int >= 0, got {n!r}"
        raise TypeError(msg)
    return n


def _len_error(loader: Any) -> str:
    """What len(loader) raised (it has __len__, but _length() found no length)."""
    try:
        len(loader)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "len(loader) returned None"


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


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(loader: Any, kind: str) -> str:
    if inspect.isfunction(loader) or isinstance(loader, functools.partial):
        func = loader.func if isinstance(loader, functools.partial) else loader
        return f"generator function {func.__module__}.{func.__qualname__}"
    t = type(loader)
    name = f"{t.__module__}.{t.__qualname__}"
    if kind == "sequence":
        n = _length(loader)
        return f"{name} (len={n})" if n is not None else f"{name} (no len)"
    return name


# --- probes --------------------------------------------------------------------------------------------


def _probe_name(probe: Probe) -> str:
    name = getattr(probe, "__name__", type(probe).__name__)
    return name.removeprefix("probe_")


def _process_probes() -> tuple[list[Probe], str | None]:
    try:
        from ._probes import processes
    except ImportError as exc:
        return [], f"process probes unavailable: {exc}"
    return list(getattr(processes, "PROBES", [])), None


def _select_probes(wanted: Iterable[str | Probe] | None) -> list[tuple[str, Probe, bool]]:
    ordered: list[tuple[str, Probe, bool]] = [(_probe_name(p), p, True) for p in _inprocess.PROBES]
    ordered.append(("pickling", _pickling.probe_pickling, False))
    procs, missing = _process_probes()
    ordered += [(_probe_name(p), p, False) for p in procs]
    if missing is not None:
        ordered.append(("processes", _missing_probe(missing), False))
    if wanted is None:
        return ordered
    if isinstance(wanted, str):
        wanted = [wanted]
    names = {name for name, _, _ in ordered}
    chosen: set[str] = set()
    custom: list[tuple[str, Probe, bool]] = []
    for item in wanted:
        if callable(item):
            custom.append((_probe_name(item), item, False))
            continue
        if not isinstance(item, str) or item not in names:
            close = difflib.get_close_matches(str(item), sorted(names), n=2)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            msg = f"check_loader() got an unknown probe {item!r}.{hint} Known probes: {', '.join(sorted(names))}."
            raise ValueError(msg)
        chosen.add(item)
    in_process = {name for name, _, inproc in ordered if inproc}
    if chosen & in_process:
        chosen.add("sequential")  # the others read its results
    return [entry for entry in ordered if entry[0] in chosen] + custom


def _missing_probe(note: str) -> Probe:
    def processes(ctx: ProbeContext) -> list[Finding]:
        raise _Skip(note)

    return processes


class _Skip(Exception):
    pass


def _note(name: str, ctx: ProbeContext) -> str:
    if name == "sequential":
        rec = ctx.shared.get("sequential")
        n = len(rec.calls) if rec is not None else 0
        note = f"{n} calls; canary: {ctx.shared.get('canary', 'not run')}"
        if ctx.kind == "generator" and ctx.make_iterator is None:
            note += "; the iterator object was consumed by the check"
        return note
    if name == "order" and ctx.shared.get("random"):
        return "the loader is random by design: exact comparisons skipped"
    if name == "threads" and "thread_speedup" in ctx.shared:
        return f"speed-up {ctx.shared['thread_speedup']:.2f}x with {min(max(ctx.workers, 2), _inprocess.MAX_PROBE_THREADS)} threads"
    if name == "pickling" and "pickled_bytes" in ctx.shared:
        return f"{ctx.shared['pickled_bytes']} bytes pickled"
    return ""


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.code, f.path)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
