"""The fork dry run: batches computed in forked workers, as Keras' process pool computes them.

Mirrors Keras: the parent computes the first batches on the calling thread (Keras' spec peek;
see NOTE [ Peek on the calling thread ]), then two workers are forked *from a helper thread*
(Keras forks from its enqueuer thread, which is what makes an inherited ``sqlite3``
connection fail) and compute the same indices plus a few more; a third worker is forked
afterwards for the next epoch, after ``on_epoch_end`` (run in that worker), as Keras
rebuilds its pool every epoch.

Decides TSG203 (raises in a worker, or serves other data there, while the parent is fine;
or, for certain, a call seen by the canary to use a socket or file offset this process
holds, in which case no worker is run on it) and TSG501/TSG502 (the same "random" output
across workers / epochs, claimed only when the canary saw the calls draw random numbers
from an RNG workers inherit, or, without its observation, when two calls in one process
differ; an RNG seeded by the index alone repeats every epoch). Workers that die or hang are
reported through :mod:`~threadsafe_gen._probes.failures` (TSG821, TSG801, TSG802).

Severity rule: fork-only problems are errors when the planned workers are forked processes
and warnings otherwise, because users switch settings and Python 3.14 changes Linux's
default start method. A worker that dies or hangs is an error under any setting.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from typing import Any

from .._finding import Finding, make_finding
from .._registry import REGISTRY
from .._text import one_line
from . import failures
from ._child import Payload
from ._context import Probe, ProbeContext, dedupe, error_if
from ._observe import usable
from ._pool import (
    Call,
    ParentPass,
    Worker,
    abandon,
    drive,
    exception_details,
    exit_if_bootstrapping,
    make_worker,
    plan,
    run_in_parent,
    run_inline,
    start,
)
from .inspection import handle_fd, other_python_threads, walk

__all__ = ["CODES", "PROBES", "NextEpoch", "fork_dry_run", "parent_pass", "shared_handles"]

CODES: frozenset[str] = frozenset({"TSG203", "TSG501", "TSG502"})

#: The label of the worker forked for Keras' next epoch.
EPOCH2 = "fork-epoch2"

# NOTE [ Peek on the calling thread ]
# Keras computes the first batches on the thread that built the loader, then forks its
# workers from another thread; an inherited sqlite3 connection fails only because of that
# difference (docs/failure-modes.md row 2b). So the peek must run on the calling thread,
# where a hang could not be interrupted. A child forked from this thread runs the peek
# first: it has the same state and thread identity, so when it finishes in time the real
# peek will too. When it hangs (for example on a lock another thread held at fork), the
# peek runs on a helper thread with a timeout instead; when it dies, the peek would kill
# this process too and is not run here at all.


def parent_pass(ctx: ProbeContext) -> ParentPass:
    """The parent's own results for Keras' peek calls, recorded once in ``ctx.state.parent``.

    See NOTE [ Peek on the calling thread ].
    """
    if ctx.state.parent is not None:
        return ctx.state.parent
    if ctx.state.inprocess_unsafe:
        # check_loader already saw the loader hang or kill its process: do not call it
        # here again; the workers still run, in children that can be killed.
        ctx.state.note(f"parent calls skipped: {ctx.state.inprocess_unsafe}")
        ctx.state.parent = ParentPass()
        return ctx.state.parent
    peek, _ = plan(ctx.indices)
    result: ParentPass | None = None
    if "fork" in multiprocessing.get_all_start_methods():
        pre = make_worker(
            multiprocessing.get_context("fork"), "preflight", Payload(ctx.loader), peek
        )
        if start([pre], from_thread=False, timeout=ctx.remaining()) is None:
            drive(
                [pre],
                start_timeout=ctx.batch_timeout,
                batch_timeout=ctx.batch_timeout,
                deadline=ctx.deadline,
            )
            if pre.outcome == "died":
                result = ParentPass(died=pre)
            elif pre.outcome == "done":
                result = run_inline(ctx.loader, peek)
        else:
            abandon([pre])
    if result is None:
        result = run_in_parent(
            ctx.loader, peek, batch_timeout=ctx.batch_timeout, remaining=ctx.remaining
        )
    ctx.state.parent = result
    return result


def fork_dry_run(ctx: ProbeContext) -> list[Finding]:
    """Compute batches in forked workers, as Keras does, and compare with the parent.

    Skipped for generator loaders (see ``process_inspection``), where fork is not
    available, and when no budget is left.
    """
    exit_if_bootstrapping()
    if ctx.kind != "sequence" or not ctx.indices:
        return []
    if "fork" not in multiprocessing.get_all_start_methods():
        ctx.state.note("fork_dry_run: skipped, fork is not available on this platform")
        return []
    parent = parent_pass(ctx)
    stop = failures.parent_findings(ctx, parent, "fork_dry_run")
    if stop:
        return dedupe(stop, ctx.state.reported)
    shared = shared_handles(ctx)
    if shared:
        # The canary saw a call use a connection or file offset this process holds: workers
        # would share it, and what a dry run shows of that (wrong rows, errors, a hang) is
        # luck. Say it once, for certain, without letting workers use it.
        ctx.state.fork_clean = False
        return dedupe([_shared_handle_finding(ctx, shared)], ctx.state.reported)
    workers = _run_workers(ctx)
    if workers is None:
        return []
    # The parent computes the extra indices only now, after forking, as Keras' parent
    # never computes them before its pool exists.
    # Only indices every forked copy finished are called here (see NOTE [ Peek on the
    # calling thread ]): one that killed or hung a worker would do the same to us.
    _, extras = plan(ctx.indices)
    pair = [w for w in workers if w.label in ("fork-1", "fork-2")]
    finished = [{c.index for c in w.calls.values()} for w in pair]
    safe = [i for i in extras if all(i in f for f in finished)]
    parent_calls = list(parent.calls)
    if safe and parent.inline and ctx.remaining() > 0:
        parent_calls += run_inline(ctx.loader, safe).calls
    findings = _explain_fork_hangs(ctx, failures.death_findings(workers, "forked"))
    findings += _fork_failures(ctx, workers, parent_calls)
    if not parent_calls:  # the loader was not called here: report worker errors as such
        findings += failures.worker_errors(workers)
    failed_calls = any(c.error for w in workers for c in w.calls.values())
    clean = not findings and not failed_calls and all(w.outcome == "done" for w in workers)
    ctx.state.fork_clean = clean
    observed = usable(ctx.state.observed)
    if observed is not None:
        # The canary saw which RNGs the calls drew from: randomness is claimed only for
        # random numbers really drawn, never for outputs that merely differ (item 4).
        if observed.random:
            findings += _fork_randomness(ctx, workers)
    elif _parent_random(parent_calls) is not False:
        findings += _fork_randomness(ctx, workers)
    return dedupe(findings, ctx.state.reported)


def shared_handles(ctx: ProbeContext) -> list[tuple[int, int, str, str]]:
    """(descriptor, first index, kind, where) for each descriptor of this process that a call
    used in the forked canary as workers cannot share (sent on a socket, moved a file
    offset); *where* names the loader attribute holding it when there is one."""
    observed = ctx.state.observed
    if observed is None or not observed.shared:
        return []
    by_fd: dict[int, str] = {}
    for path, obj in walk(ctx.loader).handles:
        fd = handle_fd(obj)
        if fd is not None:
            by_fd.setdefault(fd, path)
    return [
        (fd, index, kind, by_fd.get(fd, f"descriptor {fd}"))
        for fd, (index, kind) in sorted(observed.shared.items())
    ]


def _shared_handle_finding(ctx: ProbeContext, shared: list[tuple[int, int, str, str]]) -> Finding:
    """TSG203: calls use a connection or file offset this process holds (seen by the canary)."""
    fd, index, kind, where = shared[0]
    if kind == "socket":
        what = (
            f"loader[{index}] sends requests over a socket inherited from this process "
            f"({where}): in a forked copy of this process it sent bytes on descriptor {fd}. "
            "Forked workers therefore share one connection (one server session) with this "
            "process and with each other; their requests and replies interleave, which gives "
            "wrong rows, protocol errors or a worker that waits forever"
        )
    else:
        what = (
            f"loader[{index}] seeks or reads a file descriptor inherited from this process "
            f"({where}): in a forked copy of this process it moved the offset of descriptor "
            f"{fd}. Forked workers share that one offset with this process and with each "
            "other, so a seek in one worker moves the read of another: wrong rows, silently"
        )
    return make_finding(
        "TSG203",
        path=f"loader[{index}]",
        severity=error_if(ctx.fork_planned),
        message=(
            f"{what}. Keras computes the first batches here before it forks, so the handle "
            "is already in use"
        ),
        hint=(
            "Open it lazily in each worker process: a class attribute "
            "`threadsafe_gen.per_process(open_it)` (keyed by pid), or reopen it when "
            "os.getpid() changes; for files, os.pread reads at an offset without moving it."
        ),
        details={
            "handles": [{"fd": f, "index": i, "kind": k, "where": w} for f, i, k, w in shared]
        },
    )


def _run_workers(ctx: ProbeContext) -> list[Worker] | None:
    """Two workers forked together (epoch 1), then one more (epoch 2); None if none started."""
    peek, extras = plan(ctx.indices)
    mp_ctx = multiprocessing.get_context("fork")
    payload = Payload(ctx.loader)
    # Two workers of "epoch 1", forked together from a non-main thread like Keras' pool.
    pair = [make_worker(mp_ctx, f"fork-{k}", payload, peek + extras) for k in (1, 2)]
    error = start(pair, from_thread=True, timeout=max(1.0, min(30.0, ctx.remaining())))
    if error is not None:
        abandon(pair)
        ctx.state.note(f"fork_dry_run: could not start workers: {error!r}")
        return None
    drive(
        pair,
        start_timeout=ctx.batch_timeout,
        batch_timeout=ctx.batch_timeout,
        deadline=ctx.deadline,
    )
    workers = list(pair)
    # "Epoch 2": Keras runs on_epoch_end in the parent, then forks a new pool from it. The
    # worker runs on_epoch_end itself first, so this process's loader is left as it was.
    if all(w.outcome == "done" for w in pair) and ctx.remaining() > 0:
        later = [make_worker(mp_ctx, EPOCH2, Payload(NextEpoch(ctx.loader)), peek)]
        if start(later, from_thread=True, timeout=max(1.0, min(30.0, ctx.remaining()))):
            abandon(later)
        else:
            drive(
                later,
                start_timeout=ctx.batch_timeout,
                batch_timeout=ctx.batch_timeout,
                deadline=ctx.deadline,
            )
            workers += later
    return workers


class NextEpoch:
    """The loader as Keras' next epoch sees it: ``on_epoch_end()`` runs before the first
    batch (in the forked worker that received this wrapper, never in this process)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.ended = False

    def __len__(self) -> int:
        return len(self.loader)

    def __getitem__(self, index: int) -> Any:
        if not self.ended:
            # One forked worker calls this, from one thread: no other call can race the flag.
            self.ended = True  # threadsafe-gen: ignore[TSG352]
            hook = getattr(self.loader, "on_epoch_end", None)
            if callable(hook):
                try:
                    hook()
                except Exception:  # an epoch hook that fails is not what this run compares
                    pass
        return self.loader[index]


def _fork_failures(
    ctx: ProbeContext, workers: list[Worker], parent_calls: list[Call]
) -> list[Finding]:
    """TSG203: indices that work in the parent and raise in a forked worker (one finding)."""
    ok_in_parent = {c.index for c in parent_calls if c.error is None}
    first: tuple[Worker, Call] | None = None
    failed: set[int] = set()
    # The next epoch's worker may serve other data by design (a reshuffle in on_epoch_end).
    workers = [w for w in workers if w.label != EPOCH2]
    for w in workers:
        for pos in sorted(w.calls):
            call = w.calls[pos]
            if call.error is not None and call.index in ok_in_parent:
                failed.add(call.index)
                if first is None:
                    first = (w, call)
    if first is None:
        return _fork_differences(ctx, workers, parent_calls)
    w, call = first
    err = call.error or {}
    return [
        make_finding(
            "TSG203",
            path=f"loader[{call.index}]",
            severity=error_if(ctx.fork_planned),
            message=(
                f"loader[{call.index}] works in this process, but in a forked worker it "
                f"raised {err['type']} ({one_line(err['message'])}); "
                f"{len(failed)} of {len(ok_in_parent)} indices that work here failed in the "
                f"workers ({sorted(failed)}). Keras computes the first batches in the parent "
                "before it forks, so whatever the loader opened then is inherited by workers "
                "running on another thread and process"
            ),
            details={
                "index": call.index,
                "worker": w.label,
                **exception_details(err),
                "failed_indices": sorted(failed),
            },
        )
    ]


def _explain_fork_hangs(ctx: ProbeContext, findings: list[Finding]) -> list[Finding]:
    """Name the likely cause of a forked worker's hang: a raw lock next to live threads."""
    if not any(f.code == "TSG801" for f in findings):
        return findings
    found = walk(ctx.loader)
    threads = [t.name for t in other_python_threads()] + [p for p, _ in found.threads]
    if not found.locks or not threads:
        return findings
    lock_path = found.locks[0][0]
    why = (
        f" {lock_path} is a raw threading lock and {len(threads)} other thread(s) run in "
        f"this process ({one_line(', '.join(sorted(threads)), 80)}): a lock that another "
        "thread holds at fork time stays held forever in the worker (TSG202)"
    )
    out: list[Finding] = []
    for f in findings:
        if f.code == "TSG801":
            f = dataclasses.replace(
                f,
                message=f.message.replace(". (TSG801,", f".{why}. (TSG801,", 1),
                hint=REGISTRY["TSG202"].fix,
                details={**f.details, "lock": lock_path, "threads": sorted(threads)},
            )
        out.append(f)
    return out


def _fork_differences(
    ctx: ProbeContext, workers: list[Worker], parent_calls: list[Call]
) -> list[Finding]:
    """TSG203: a deterministic loader that serves other data in forked workers.

    Deterministic means two calls of the same index agree in the parent and in every
    worker; then any worker batch that differs from the parent's batch for that index comes
    from something the processes share, such as one kernel file offset
    (docs/failure-modes.md row 2b'').
    """
    observed = usable(ctx.state.observed)
    if observed is not None and (observed.drew or observed.unseeded):
        # It draws random numbers: two equal results in the parent may be luck.
        return []
    mine: dict[int, set[str]] = {}
    for c in parent_calls:
        if c.digest is not None:
            mine.setdefault(c.index, set()).add(c.digest)
    if not mine or any(len(d) > 1 for d in mine.values()):
        return []  # random (or stateful) in the parent: see _fork_randomness
    wrong: list[tuple[Worker, Call]] = []
    compared = 0
    for w in workers:
        for call in w.calls.values():
            expected = mine.get(call.index)
            if expected is None or call.digest is None:
                continue
            compared += 1
            if call.digest not in expected:
                wrong.append((w, call))
    if not wrong:
        return []
    w, call = wrong[0]
    indices = sorted({c.index for _, c in wrong})
    return [
        make_finding(
            "TSG203",
            path=f"loader[{call.index}]",
            severity=error_if(ctx.fork_planned),
            message=(
                f"loader[{call.index}] returns the same data on every call in this process, "
                f"but forked workers returned other data for {len(wrong)} of {compared} "
                f"batches (indices {indices}): the workers share something with the parent "
                "or each other, such as one file offset or one connection's stream, and "
                "train on wrong rows without any error"
            ),
            details={
                "index": call.index,
                "worker": w.label,
                "different": len(wrong),
                "compared": compared,
                "indices": indices,
            },
        )
    ]


def _parent_random(calls: list[Call]) -> bool | None:
    """Did repeated calls of one index differ in the parent? None when nothing repeated.

    A loader that repeats itself in the parent is not random, so a difference inside a
    worker comes from the fork (TSG203), not from an RNG (TSG501).
    """
    seen: dict[int, set[str]] = {}
    for c in calls:
        if c.digest is not None:
            seen.setdefault(c.index, set()).add(c.digest)
    repeated = [d for i, d in seen.items() if sum(x.index == i for x in calls) > 1]
    if not repeated:
        return None
    return any(len(d) > 1 for d in repeated)


def _random_in_process(w: Worker) -> bool | None:
    """Did two calls of the same index differ inside one worker? None when unknown."""
    d = w.digests()
    if 0 not in d or 1 not in d:
        return None
    return d[0] != d[1]


def _identical(a: Worker, b: Worker) -> tuple[int, int]:
    """(identical, compared) batch digests at the same positions of two workers."""
    da, db = a.digests(), b.digests()
    common = sorted(set(da) & set(db))
    return sum(da[p] == db[p] for p in common), len(common)


def _fork_randomness(ctx: ProbeContext, workers: list[Worker]) -> list[Finding]:
    """TSG501 / TSG502 from the digests of the forked workers.

    With the canary's observation, "random" means the calls drew from an RNG that forked
    workers inherit with its state (numpy's global RNG, an RNG on the loader or in a
    module); without it, that two calls of one index differed in a worker. A loader whose
    only RNGs are created in the call with a fixed seed (``RandomState(index)``) is
    deterministic, and repeats its "random" numbers every epoch (item 18).
    """
    done = [w for w in workers if w.outcome == "done"]
    pair = [w for w in done if w.label in ("fork-1", "fork-2")]
    later = [w for w in done if w.label == EPOCH2]
    observed = usable(ctx.state.observed)
    copied = observed is not None and observed.counter_seeded
    if observed is not None:
        sources = sorted(observed.inherited)
        random_seen = bool(sources) or copied
    else:
        sources = []
        random_seen = any(_random_in_process(w) for w in done)
    if not random_seen:
        if observed is not None and observed.seeded and later and pair:
            return _seeded_every_epoch(ctx, observed.seeded, later[0], pair)
        return []  # deterministic (or unknown): identical results are correct
    sev = error_if(ctx.fork_planned)
    if sources:
        state = (
            f"the loader draws from {', '.join(sources[:3])}, which forked workers inherit "
            "with its state"
        )
    elif copied:
        assert observed is not None
        shown = ", ".join(dict.fromkeys(observed.seeded[:3]))
        state = (
            f"the loader seeds its RNG from state it keeps ({shown}, ...: a counter, not the "
            "index), which every forked worker copies"
        )
    else:
        state = (
            "the random state (numpy's global RNG or an RNG on the loader) is copied into "
            "every forked worker"
        )
    findings: list[Finding] = []
    if len(pair) == 2:
        same, total = _identical(pair[0], pair[1])
        if same:
            findings.append(
                make_finding(
                    "TSG501",
                    path="loader",
                    severity=sev,
                    message=(
                        f"2 forked workers returned identical 'random' data for {same} of "
                        f"{total} batches: {state}, so the workers replay the same "
                        "augmentations and the model sees duplicates"
                    ),
                    details={"identical": same, "compared": total, "workers": 2, "rngs": sources},
                )
            )
    if later and pair:
        same, total = max(_identical(later[0], w) for w in pair)
        if same:
            findings.append(
                make_finding(
                    "TSG502",
                    path="loader",
                    severity=sev,
                    message=(
                        f"A worker forked for the next epoch (after on_epoch_end, from the "
                        f"parent, as Keras forks a new pool every epoch) returned the same "
                        f"'random' data as a worker of the first pool for {same} of {total} "
                        f"batches: {state}, and the parent's state does not move between "
                        "epochs, so every epoch repeats the previous epoch's augmentations"
                    ),
                    details={"identical": same, "compared": total, "rngs": sources},
                )
            )
    return findings


def _seeded_every_epoch(
    ctx: ProbeContext, seeded: list[str], later: Worker, pair: list[Worker]
) -> list[Finding]:
    """TSG502: RNGs seeded in each call by something that does not change between epochs."""
    same, total = max(_identical(later, w) for w in pair)
    if not same:
        return []  # the seed moves with the epoch (on_epoch_end changed it): correct
    shown = ", ".join(dict.fromkeys(seeded[:3]))
    return [
        make_finding(
            "TSG502",
            path="loader",
            message=(
                f"__getitem__ creates its RNG with a fixed seed ({shown}, ...): the seed "
                f"depends on the index alone, not on the epoch, so the next epoch (after "
                f"on_epoch_end) returned the same 'random' data for {same} of {total} "
                "batches, and every epoch trains on the same augmentations"
            ),
            details={"identical": same, "compared": total, "seeded": seeded[:4]},
        )
    ]


PROBES = (
    Probe(
        "fork_dry_run",
        fork_dry_run,
        reads=("inprocess_unsafe", "observed"),
        records=("parent", "fork_clean", "reported"),
    ),
)
