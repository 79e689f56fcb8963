"""Helpers shared by the PyTorch and Grain dry runs (``torch_loader.py``, ``grain_loader.py``).

The frameworks start their own worker processes; these helpers look at them from the
outside: a worker's private memory by pid (``/proc/PID/smaps_rollup``), killing workers that
hang, counting items per worker to measure duplication, finding containers of millions of
small Python objects (the copy-on-read problem of forked workers), snapshots of the global
RNGs, and iterating with a deadline on a helper thread.

Nothing here imports torch or grain.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .._finding import Finding, make_finding
from .._registry import Severity
from .._text import one_line, short_repr, type_name
from . import pickling
from ._context import Probe, ProbeContext, ProbeFunction

__all__ = [
    "BigContainer",
    "Drawn",
    "describe_error",
    "Duplication",
    "big_containers",
    "draw",
    "duplication",
    "framework_context",
    "kill",
    "mib",
    "pickled_part_findings",
    "rng_restored",
    "rng_state",
    "select",
    "shared_finding",
    "uss_bytes",
]

#: A container of Python objects at least this long may grow every forked worker's memory.
BIG_CONTAINER_ITEMS = 100_000
_SAMPLE = 64  # objects sampled to estimate a container's object sizes
_WALK_DEPTH = 4
_WALK_NODES = 5_000


def mib(n: float) -> str:
    """Bytes as ``12.3 MiB``."""
    return f"{n / 2**20:.1f} MiB"


def shared_finding(code: str, **kwargs: Any) -> Finding:
    """A finding of a code the Keras probes decide too (TSG101, TSG201, TSG402, TSG501,
    TSG502, TSG801, TSG821, TSG822), worded for the framework whose engine met it.

    The meaning of each code is the same as for Keras loaders; only the situation (a torch or
    Grain worker, its settings) differs, so the message is built by the framework's probe.
    """
    return make_finding(code, **kwargs)


# --- worker processes seen from outside ------------------------------------------------------------


def framework_context(
    loader: Any,
    *,
    workers: int,
    start_method: str,
    max_batches: int,
    batch_timeout: float,
    deadline: float,
) -> ProbeContext:
    """The ProbeContext of a loader run by its framework's own *workers* (0: in-process)."""
    return ProbeContext(
        loader=loader,
        kind="generator",
        workers=max(1, workers),
        use_multiprocessing=workers > 0,
        start_method=start_method,
        indices=[],
        make_iterator=None,
        max_batches=max_batches,
        batch_timeout=batch_timeout,
        deadline=deadline,
    )


def pickled_part_findings(
    ctx: ProbeContext,
    parts: Sequence[tuple[str, Any]],
    severity: Severity,
    when: str,
    *,
    dumps: Callable[[Any], Any] | None = None,
) -> list[Finding]:
    """TSG101/TSG102 for each (root path, part) the framework pickles into its workers.

    The culprits' paths are recorded in ``ctx.state.unpicklable`` for the later probes.
    """
    findings: list[Finding] = []
    for root, part in parts:
        culprits = pickling.find_unpicklable(part, root, dumps=dumps)
        ctx.state.unpicklable += [u.path for u in culprits]
        findings += [
            pickling.culprit_finding(g, severity, when) for g in pickling.by_attribute(culprits)
        ]
    return findings


def uss_bytes(pid: int) -> int | None:
    """Private memory (USS: Private_Clean + Private_Dirty) of process *pid*, or None.

    Linux only (``/proc/PID/smaps_rollup``), same user; None elsewhere or once it exited.
    """
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            text = fh.read()
    except OSError:
        return None
    total = 0
    for line in text.splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1]) * 1024
    return total


def kill(pids: list[int]) -> None:
    """SIGKILL each of *pids* that is still there (workers stuck in user code)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# --- duplication ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Duplication:
    """What workers produced, compared across workers.

    Attributes:
        produced: items (or batches) received.
        distinct: distinct fingerprints among them.
        per_worker: items received from each worker id.
        shared: distinct items that more than one worker produced.
    """

    produced: int
    distinct: int
    per_worker: Mapping[int, int]
    shared: int

    @property
    def factor(self) -> float:
        """produced / distinct: 2.0 when every item came from each of 2 workers."""
        return self.produced / self.distinct if self.distinct else 1.0

    @property
    def replicated(self) -> bool:
        """Most items were produced by more than one worker: the workers replicate the data."""
        return len(self.per_worker) > 1 and self.shared * 2 > self.distinct and self.factor > 1.2

    def measured(self, unit: str) -> str:
        """How it was measured, for a TSG402 message: over how many *unit*, and per worker."""
        counts = ", ".join(f"worker {w}: {n}" for w, n in self.per_worker.items())
        return (
            f"measured over the first {self.produced} {unit}: {self.distinct} distinct, "
            f"{self.shared} made by more than one worker; {counts}"
        )

    def details(self, unit: str, *, distinct: bool = False) -> dict[str, Any]:
        """A TSG402 finding's details: the factor, the *unit* produced, the count per worker."""
        details: dict[str, Any] = {"factor": round(self.factor, 2), unit: self.produced}
        if distinct:
            details["distinct"] = self.distinct
        details["per_worker"] = dict(self.per_worker)
        return details


def duplication(items: list[tuple[int, str]]) -> Duplication:
    """The :class:`Duplication` of ``(worker id, fingerprint)`` pairs."""
    by_fp: dict[str, set[int]] = {}
    per_worker: dict[int, int] = {}
    for worker, fp in items:
        by_fp.setdefault(fp, set()).add(worker)
        per_worker[worker] = per_worker.get(worker, 0) + 1
    shared = sum(1 for workers in by_fp.values() if len(workers) > 1)
    return Duplication(len(items), len(by_fp), dict(sorted(per_worker.items())), shared)


# --- copy-on-read: containers of many small Python objects ------------------------------------------


@dataclasses.dataclass(frozen=True)
class BigContainer:
    """A list, tuple, dict or set of many Python objects reachable from a dataset.

    Attributes:
        path: where it sits (``dataset.files``).
        kind: ``"list of str"``, ``"dict of int"``...
        items: its length.
        object_bytes: estimated bytes of the objects it holds (a sample's mean size times
            the length): the memory a forked worker copies as it touches them.
    """

    path: str
    kind: str
    items: int
    object_bytes: int


def _estimate(values: list[Any]) -> tuple[str, int]:
    """(element type name, mean size in bytes) of a sample of a container's elements."""
    names = sorted({type_name(v) for v in values})
    sizes = []
    for v in values:
        size = sys.getsizeof(v, 64)
        if isinstance(v, (tuple, list)):
            size += sum(sys.getsizeof(x, 64) for x in v[:8])
        sizes.append(size)
    return "/".join(names[:2]), (sum(sizes) // max(len(sizes), 1))


def _container(path: str, obj: Any) -> BigContainer | None:
    if not isinstance(obj, (list, tuple, dict, set, frozenset)) or len(obj) < BIG_CONTAINER_ITEMS:
        return None
    step = max(1, len(obj) // _SAMPLE)
    if isinstance(obj, dict):
        keys = list(obj)[::step][:_SAMPLE]
        sample = keys + [obj[k] for k in keys]
        per = 2
    elif isinstance(obj, (set, frozenset)):
        sample, per = [x for i, x in enumerate(obj) if i < _SAMPLE], 1
    else:
        sample, per = list(obj[::step][:_SAMPLE]), 1
    if not sample:
        return None
    kind, mean = _estimate(sample)
    return BigContainer(path, f"{type(obj).__name__} of {kind}", len(obj), mean * per * len(obj))


def big_containers(root: Any, root_path: str) -> list[BigContainer]:
    """Containers of at least :data:`BIG_CONTAINER_ITEMS` Python objects reachable from *root*
    (attributes, slots and items, a few levels deep), largest first.

    numpy arrays hold no Python objects (unless of dtype object) and are not reported.
    """
    found: list[BigContainer] = []
    seen: set[int] = set()
    queue: list[tuple[str, Any, int]] = [(root_path, root, 0)]
    while queue and len(seen) < _WALK_NODES:
        path, obj, depth = queue.pop(0)
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type(None))):
            continue
        seen.add(id(obj))
        big = _container(path, obj)
        if big is not None:
            found.append(big)
            continue
        if depth >= _WALK_DEPTH or type(obj).__module__.startswith(("torch", "grain", "numpy")):
            continue
        queue.extend((p, v, depth + 1) for p, v in _members(obj, path))
    return sorted(found, key=lambda c: -c.object_bytes)


def _members(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:100]:
            yield f"{path}[{short_repr(k, 40)}]", v
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj[:100]):
            yield f"{path}[{i}]", v
        return
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        for k, v in list(attrs.items())[:200]:
            yield f"{path}.{k}", v


# --- randomness ---------------------------------------------------------------------------------------


def rng_state() -> tuple[Any, ...]:
    """A comparable snapshot of Python's and (if imported) numpy's global RNG state."""
    state: list[Any] = [random.getstate()]
    np = sys.modules.get("numpy")
    if np is not None:
        name, keys, pos, has_gauss, gauss = np.random.get_state()
        state.append((name, keys.tobytes(), pos, has_gauss, gauss))
    return tuple(state)


@contextlib.contextmanager
def rng_restored() -> Iterator[None]:
    """Restore Python's and numpy's global RNG state on exit (user code may reseed them)."""
    py = random.getstate()
    np = sys.modules.get("numpy")
    npstate = np.random.get_state() if np is not None else None
    try:
        yield
    finally:
        random.setstate(py)
        if np is not None:
            np.random.set_state(npstate)


# --- iterating with a deadline ---------------------------------------------------------------------


@dataclasses.dataclass
class Drawn:
    """What :func:`draw` got from an iterator.

    Attributes:
        items: the items, in order.
        error: what ``next()`` raised (not StopIteration), or None.
        finished: the iterator was exhausted.
        stuck: ``next()`` had not returned when the limit was reached.
        first_seconds: time to the first item, or None.
    """

    items: list[Any] = dataclasses.field(default_factory=list)
    error: BaseException | None = None
    finished: bool = False
    stuck: bool = False
    first_seconds: float | None = None


def draw(
    iterator: Iterator[Any],
    count: int,
    *,
    first_timeout: float,
    timeout: float,
    on_item: Callable[[Any], None] | None = None,
) -> tuple[Drawn, threading.Thread]:
    """Take up to *count* items from *iterator* on a daemon thread, waiting at most
    *first_timeout* for the first and *timeout* for each later one.

    Returns the result and the thread; when ``stuck`` the thread is still inside ``next()``
    (the caller stops what it waits for, e.g. kills worker processes, then joins it).
    """
    drawn = Drawn()
    progress = threading.Event()
    t0 = time.monotonic()

    def run() -> None:
        try:
            for item in iterator:
                if drawn.first_seconds is None:
                    drawn.first_seconds = time.monotonic() - t0
                drawn.items.append(item)
                if on_item is not None:
                    on_item(item)
                progress.set()
                if len(drawn.items) >= count:
                    return
            drawn.finished = True
        except BaseException as exc:  # the loader's exception is a finding
            drawn.error = exc
        finally:
            progress.set()

    thread = threading.Thread(target=run, name="threadsafe_gen-framework-draw", daemon=True)
    thread.start()
    while thread.is_alive():
        limit = first_timeout if not drawn.items else timeout
        if not progress.wait(max(limit, 0.0)):
            drawn.stuck = thread.is_alive()
            break
        progress.clear()
    return drawn, thread


def describe_error(exc: BaseException) -> str:
    """``Type: first line of the message``, bounded."""
    return f"{type(exc).__name__}: {one_line(str(exc), 300)}"


def select(probes: Sequence[Probe], wanted: Sequence[Any] | None) -> list[Probe]:
    """The framework probes to run: all, or those named in *wanted* (custom functions last)."""
    if wanted is None:
        return list(probes)
    names = {w for w in wanted if isinstance(w, str)}
    custom: list[ProbeFunction] = [w for w in wanted if callable(w)]
    named = [p for p in probes if p.name in names]
    return named + [
        Probe(str(getattr(f, "__name__", "custom")).removeprefix("probe_"), f) for f in custom
    ]
