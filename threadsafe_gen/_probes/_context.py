"""What every probe is given (:class:`ProbeContext`), what probes leave for later ones
(:class:`ProbeState`), and how a probe is declared (:class:`Probe`).

A probe is a function ``run(ctx) -> list[Finding]`` declared with a :class:`Probe` record:
its name, whether it calls the loader in this process, and which :class:`ProbeState` fields
it needs, reads and records. The orchestrator (``threadsafe_gen._check``) runs the probes in
one fixed order in which every field is recorded before it is read, and selects the probes
that record a field whenever a probe that needs it is selected.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from .._finding import Finding
from .._registry import Severity
from ._calls import ConcurrentRun, ErrorTexts, PassRecord
from ._observe import Observation
from ._pool import ParentPass

__all__ = ["Probe", "ProbeContext", "ProbeFunction", "ProbeState", "dedupe", "error_if"]


@dataclasses.dataclass
class ProbeState:
    """What the probes record for the probes that run after them, in one typed place.

    Each field says which probe records it and which probes read it. The orchestrator's
    order (``threadsafe_gen._check.PROBES``) puts every recorder before its readers.
    """

    sequential: PassRecord | None = None
    """The sequential pass, fingerprints per index. Recorded by ``sequential``; needed by
    every other in-process probe."""

    canary: str = "not run"
    """How the forked canary ended (``"done"``, ``"timeout at index 3"``, ...). Recorded by
    ``sequential``, shown in its note."""

    canary_completed: int = 0
    """Calls the canary finished; Keras' peek runs on the calling thread only for those.
    Recorded and read by ``sequential``."""

    observed: Observation | None = None
    """What the canary's calls did besides returning batches: the attributes they assigned,
    the RNGs they drew from or created. Recorded by ``sequential`` (sequences, where fork is
    safe), read by ``state``, ``fork_dry_run`` and ``process_inspection``; None when not
    observed (they then judge by results alone)."""

    attrs_before: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The loader's attributes before any call. Recorded by ``sequential``, read by ``state``."""

    attrs_after_first: dict[str, Any] | None = None
    """The loader's attributes after Keras' two peek calls. Recorded by ``sequential``, read
    by ``state`` (None: same as :attr:`attrs_before`)."""

    inprocess_unsafe: str | None = None
    """Why the loader must not be called in this process any more (a call hung, or the
    canary died); None while it is safe. Recorded by any probe that saw it; the orchestrator
    skips the in-process probes after it, and ``fork``/``spawn`` call the loader only in
    children."""

    cut_short: str | None = None
    """What the time budget interrupted (an in-process call). Recorded by any in-process
    probe; the orchestrator reports it as TSG802."""

    results_changed: list[int] = dataclasses.field(default_factory=list)
    """Indices whose earlier result a later call changed (a reused buffer, TSG304).
    Recorded by ``state``, read by ``threads`` (which then does not report it again)."""

    random: bool = False
    """Repeated calls return fresh data by design (augmentation): exact comparisons are
    skipped. Recorded by ``order``, read by ``threads``."""

    order_dependent: list[int] = dataclasses.field(default_factory=list)
    """Indices whose result depends on earlier calls (a cursor). Recorded by ``order``, read
    by ``threads`` (which then does not report TSG301 again)."""

    threads: ConcurrentRun | None = None
    """The first concurrent run when worker threads are planned. Recorded by ``threads``,
    read by ``duplicates`` (duplicated rows with the planned workers)."""

    thread_speedup: float | None = None
    """Measured speed-up of n threads over one. Recorded by ``threads``, shown in its note."""

    unpicklable: list[str] = dataclasses.field(default_factory=list)
    """Paths the pickling probe reported as unpicklable. Recorded by ``pickling``, read by
    ``spawn_dry_run`` (which then does not report the same failure again)."""

    pickled_bytes: int | None = None
    """Size of the pickled loader. Recorded by ``pickling``, shown in its note."""

    pickling_hangs: bool = False
    """Pickling the loader did not finish in time (reported as TSG801). Recorded by
    ``pickling``, read by ``spawn_dry_run`` (which then does not try to send it)."""

    parent: ParentPass | None = None
    """The parent's own results for Keras' peek calls. Recorded by ``fork_dry_run`` (or by
    ``spawn_dry_run`` when it runs alone), read by both."""

    fork_clean: bool | None = None
    """True when the fork dry run ran and every worker call succeeded with the parent's
    data; None when it did not run. Recorded by ``fork_dry_run``, read by
    ``process_inspection`` (an inherited handle is then a risk, not an error)."""

    reported: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    """(code, path) pairs the process probes reported, so a crash the fork dry run saw is
    not reported again by the spawn dry run."""

    notes: list[str] = dataclasses.field(default_factory=list)
    """Why something was skipped or cut short; shown in the report's notes."""

    errors: ErrorTexts = dataclasses.field(default_factory=ErrorTexts)
    """The check's book of error texts: the calls that raise share cut copies, so a huge
    message raised by hundreds of calls costs a bounded amount of memory."""

    def note(self, text: str) -> None:
        """Add a note for the report (why a step was skipped)."""
        self.notes.append(text)


#: Names of the :class:`ProbeState` fields, for checking Probe declarations.
STATE_FIELDS = frozenset(f.name for f in dataclasses.fields(ProbeState))


@dataclasses.dataclass
class ProbeContext:
    """Everything a probe needs to know about the loader and the planned workers.

    Attributes:
        loader: the object the user passed (PyDataset, Sequence, iterator, generator
            function, or one of our wrappers).
        kind: ``"sequence"`` (``__len__`` + ``__getitem__``) or ``"generator"``.
        workers: number of workers planned (>= 1).
        use_multiprocessing: whether workers are processes.
        start_method: the start method the process workers will use
            (``"fork"``, ``"spawn"`` or ``"forkserver"``).
        indices: for sequences, the batch indices the probes may call (bounded by
            ``max_batches``); empty for generators.
        make_iterator: for generators, a factory returning a fresh iterator (calls the
            generator function again), or ``None`` when only one iterator exists.
        max_batches: cap on batches drawn from a generator (infinite ones included).
        batch_timeout: per-call limit in seconds.
        deadline: ``time.monotonic()`` value after which probes must stop.
        length: ``len(loader)`` (or a PyDataset's ``num_batches``), computed once by the
            orchestrator; None for generators and loaders without a length.
        len_error: what ``len(loader)`` raised, when the loader has ``__len__`` but no
            length could be read.
        hosts: number of hosts to simulate (``check_loader(hosts=N)``; 1: none).
        creator_thread: ident of the thread that called ``check_loader()`` (Keras' peek
            thread).
        state: what earlier probes recorded for later ones.
    """

    loader: Any
    kind: Literal["sequence", "generator"]
    workers: int
    use_multiprocessing: bool
    start_method: str
    indices: list[int]
    make_iterator: Callable[[], Iterator[Any]] | None
    max_batches: int
    batch_timeout: float
    deadline: float
    length: int | None = None
    len_error: str | None = None
    hosts: int = 1
    creator_thread: int = dataclasses.field(default_factory=threading.get_ident)
    state: ProbeState = dataclasses.field(default_factory=ProbeState)

    def remaining(self) -> float:
        """Seconds left in the budget (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def call_timeout(self) -> float:
        """How long to wait for one in-process call: the batch timeout, cut at the deadline."""
        return min(self.batch_timeout, self.remaining())

    def path(self, index: int) -> str:
        """How a call is named in findings: ``loader[3]`` or ``next(loader) #3``."""
        return f"loader[{index}]" if self.kind == "sequence" else f"next(loader) #{index}"

    @property
    def threads_planned(self) -> bool:
        """The planned workers are more than one thread."""
        return self.workers > 1 and not self.use_multiprocessing

    @property
    def fork_planned(self) -> bool:
        """The planned workers are forked processes."""
        return self.use_multiprocessing and self.start_method == "fork"

    @property
    def spawn_planned(self) -> bool:
        """The planned workers are processes that receive the loader pickled."""
        return self.use_multiprocessing and self.start_method in ("spawn", "forkserver")


ProbeFunction = Callable[[ProbeContext], list[Finding]]


@dataclasses.dataclass(frozen=True)
class Probe:
    """One probe of ``check_loader()`` and what it depends on.

    Attributes:
        name: the name ``check_loader(probes=[...])`` accepts and reports.
        run: the probe itself.
        in_process: it calls the loader in this process (skipped once that is unsafe).
        needs: :class:`ProbeState` fields it cannot do without; selecting it selects the
            probes that record them.
        reads: fields it uses when an earlier probe recorded them.
        records: fields it records for later probes.
        note: the text of its :class:`~threadsafe_gen._finding.ProbeResult` note.
    """

    name: str
    run: ProbeFunction
    in_process: bool = False
    needs: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    records: tuple[str, ...] = ()
    note: Callable[[ProbeContext], str] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.needs + self.reads + self.records) - STATE_FIELDS
        if unknown:  # pragma: no cover - a typo in a declaration is a programming error
            msg = f"probe {self.name!r} declares unknown ProbeState fields {sorted(unknown)}"
            raise ValueError(msg)


def error_if(planned: bool) -> Severity:
    """Error when the planned setting is affected, warning otherwise (``fork`` docstring)."""
    return Severity.ERROR if planned else Severity.WARNING


def dedupe(findings: Iterable[Finding], seen: set[tuple[str, str]] | None = None) -> list[Finding]:
    """*findings* without those whose (code, path) is in *seen* or repeats; *seen* grows."""
    seen = set() if seen is None else seen
    kept: list[Finding] = []
    for f in findings:
        if (f.code, f.path) not in seen:
            seen.add((f.code, f.path))
            kept.append(f)
    return kept
