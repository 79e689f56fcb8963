"""Probes of ``check_loader()``: each one runs the loader one way and returns findings.

A probe is a function ``run(ctx: ProbeContext) -> list[Finding]`` declared by a
:class:`Probe` record (its name, whether it calls the loader in this process, and the
:class:`ProbeState` fields it needs, reads and records). The orchestrator
(``threadsafe_gen._check``) runs them in one order in which every field is recorded before
it is read, times each probe, stops starting new ones when the budget is spent, and turns
an unexpected exception inside a probe into a ``failed``
:class:`~threadsafe_gen._finding.ProbeResult` (never into a crash of the caller).

One module per concern, each declaring the codes it decides (``CODES``) and its probes
(``PROBES``), in the order check_loader runs them:

    sequential.py   a forked canary, then one pass over the loader (TSG305, TSG601)
    structure.py    Keras' batch rules over that pass (TSG602, TSG603, TSG621-624)
    state.py        attributes changed by calls, results changed later (TSG303, TSG304)
    resources.py    descriptors and threads that grow per call (TSG721, TSG722)
    threads.py      the order and threads probes (TSG301, TSG302, TSG306, TSG701)
    duplicates.py   duplicated sample rows, sequential and threaded (TSG401)
    pickling.py     the post-order pickling walk with multiprocessing's pickler (TSG101-103)
    fork.py         the fork dry run in forked workers (TSG203, TSG501, TSG502)
    inspection.py   handles, locks, RNGs and threads found by looking (TSG201, TSG202,
                    TSG204, TSG402, TSG503, TSG703)
    spawn.py        the spawn/forkserver dry run in a child (TSG104, TSG702)
    failures.py     calls that raise, hang or kill their process, wherever they ran
                    (TSG801, TSG802, TSG821, TSG822)

and their private helpers:

    _context.py     ProbeContext, ProbeState, Probe
    _calls.py       in-process calls with a timeout, and their records
    _pool.py        child worker processes: start, drive, reap; the parent's own calls
    _child.py       the code that runs inside those children
    _batches.py     fingerprints and structure signatures of batches
    _observe.py     what each call does in the forked canary: RNGs drawn from or seeded,
                    attributes assigned, inherited sockets and file offsets used
    _race.py        races provoked on purpose: one call paused inside a generator
"""

from __future__ import annotations

from ._context import Probe, ProbeContext, ProbeFunction, ProbeState

__all__ = ["Probe", "ProbeContext", "ProbeFunction", "ProbeState"]
