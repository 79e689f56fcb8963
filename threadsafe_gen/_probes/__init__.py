"""Probes of ``check_loader()``: each one runs the loader one way and returns findings.

A probe is a plain function ``probe(ctx: ProbeContext) -> list[Finding]``. The
orchestrator (``threadsafe_gen._check``) times each probe, stops starting new ones when
the budget is spent, and turns an unexpected exception inside a probe into a ``failed``
:class:`~threadsafe_gen._findings.ProbeResult` (never into a crash of the caller).

Modules:
    _batches.py   fingerprints and structure signatures of batches (shared helpers)
    inprocess.py  sequential, threaded and resource probes run in the calling process
    pickling.py   the post-order pickling walk with multiprocessing's own pickler
    processes.py  fork / spawn / forkserver dry runs in child processes, with timeouts
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

__all__ = ["ProbeContext"]


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
        shared: scratch space the orchestrator fills (e.g. the sequential pass's
            fingerprints under ``"sequential"``) so later probes do not recompute it.
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
    shared: dict[str, Any] = dataclasses.field(default_factory=dict)

    def remaining(self) -> float:
        """Seconds left in the budget (never negative)."""
        return max(0.0, self.deadline - time.monotonic())
