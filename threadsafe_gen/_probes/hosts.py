"""The hosts probe: would every host of a multi-machine run read the same items?

Decides TSG403. Runs only with ``check_loader(hosts=N)``, N > 1. For each simulated host h of
N it runs one pass over the loader in this process with the host identity set to (h, N), which
is what :func:`threadsafe_gen.host_info`, :func:`threadsafe_gen.worker_info` and
:func:`threadsafe_gen.shard` then return (NOTE [ Hosts x local workers ] in ``_sharding``):
the loader runs as the main program of each host would run it (Keras 3 with JAX's
``keras.distribution``, a torch.distributed rank, a tf.data pipeline the user built). Then it
compares the sample rows the hosts read: rows read by several hosts are items every host
would load, and, unless a framework drops the extra copies, train on.

Each host's pass starts from the same global random state (``random`` and numpy's global RNG
are seeded alike, then restored), so a loader that augments with the global RNG gives equal
rows for equal items; a loader whose results still differ between two identical passes is
reported in a note instead (its rows cannot be compared).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._finding import Finding, make_finding
from .._hosts import HostInfo, use_hosts
from .._iterators import GeneratorCall
from .._registry import Severity
from ._calls import Caller, getitem, record
from ._context import Probe, ProbeContext
from .failures import hang_finding

__all__ = ["CODES", "PROBES", "probe_hosts"]

CODES: frozenset[str] = frozenset({"TSG403"})

#: The seed every simulated host's pass starts from.
_SEED = 403
#: Calls repeated to tell a loader with fresh randomness per call from one without.
_REPEAT = 4


def _as_host(host: HostInfo, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with *host* as this thread's host (run on the probe's helper thread)."""
    with use_hosts(host):
        return fn(*args)


def _next(it: Iterator[Any]) -> Any:
    return next(it)


class _Stop(Exception):
    """A call of the simulated pass failed or hung: the probe gives up (with a note)."""

    def __init__(self, msg: str, findings: list[Finding] | None = None) -> None:
        super().__init__(msg)
        self.findings = findings or []


class _Pass:
    """One simulated host's pass: the rows of up to ``max_batches`` batches, in order."""

    def __init__(
        self, ctx: ProbeContext, caller: Caller, host: HostInfo, make: Callable[[], Any] | None
    ) -> None:
        self.ctx, self.caller, self.host, self.make = ctx, caller, host, make

    def call(self, fn: Callable[..., Any], *args: Any, index: int | None = None) -> Any:
        ctx = self.ctx
        out = self.caller.call(
            functools.partial(_as_host, self.host, fn, *args), ctx.call_timeout()
        )
        if out is None:
            where = f"hosts probe, as host {self.host.index} of {ctx.hosts}"
            found = hang_finding(ctx, [] if index is None else index, where)
            msg = "a call did not return in time"
            raise _Stop(msg, found)
        if out.error is not None:
            if isinstance(out.error, StopIteration):
                raise out.error
            msg = f"a call raised {type(out.error).__name__}: {out.error}"
            raise _Stop(msg)
        return out

    def rows(self, limit: int) -> list[tuple[bytes, ...]]:
        """The sample rows of each batch this host reads (at most *limit* batches)."""
        if self.ctx.kind == "sequence":
            n = int(self.call(len, self.ctx.loader).value)
            return [
                self._rows(i, self.call(getitem, self.ctx.loader, i, index=i))
                for i in range(min(n, limit))
            ]
        assert self.make is not None  # checked by probe_hosts
        it = self.call(self.make).value
        batches: list[tuple[bytes, ...]] = []
        try:
            while len(batches) < limit:
                try:
                    out = self.call(_next, it, index=len(batches))
                except StopIteration:
                    break
                batches.append(self._rows(len(batches), out))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                with contextlib.suppress(_Stop):
                    self.call(close)
        return batches

    def _rows(self, index: int, out: Any) -> tuple[bytes, ...]:
        info = record(index, out, self.ctx.state.errors).info
        return () if info is None else info.rows


@contextlib.contextmanager
def _same_randomness() -> Iterator[Callable[[], None]]:
    """Yield a function that seeds the global RNGs alike; restore their state on exit."""
    saved_random, saved_numpy = random.getstate(), np.random.get_state()

    def reseed() -> None:
        random.seed(_SEED)
        np.random.seed(_SEED)

    try:
        yield reseed
    finally:
        random.setstate(saved_random)
        np.random.set_state(saved_numpy)


def probe_hosts(ctx: ProbeContext) -> list[Finding]:
    """TSG403: with ``hosts=N``, every simulated host reads the same sample rows."""
    if ctx.hosts < 2:
        return []
    if isinstance(ctx.loader, GeneratorCall) and not ctx.loader.started:
        make: Callable[[], Any] | None = ctx.loader.fresh  # each host starts its own call
    else:
        make = ctx.make_iterator
    if ctx.kind == "generator" and make is None:
        ctx.state.note(
            "hosts: the loader is a single iterator object, so the hosts could not each start "
            "their own; pass the generator function to check_loader to simulate hosts"
        )
        return []
    caller = Caller("threadsafe_gen-check-hosts")
    try:
        with _same_randomness() as reseed:
            passes: list[list[tuple[bytes, ...]]] = []
            for h in range(ctx.hosts):
                reseed()
                host = HostInfo(h, ctx.hosts, f"check_loader(hosts={ctx.hosts})")
                passes.append(_Pass(ctx, caller, host, make).rows(ctx.max_batches))
            finding = _compare(ctx, passes)
            if finding is None and _fresh_randomness(ctx, caller, reseed, passes[0], make):
                ctx.state.note(
                    "hosts: the loader returns different data for the same batch in two "
                    "identical passes (fresh randomness per call), so the rows the simulated "
                    "hosts read could not be compared"
                )
    except _Stop as exc:
        ctx.state.note(f"hosts: simulation stopped: {exc}")
        return exc.findings
    finally:
        caller.close()
    return [] if finding is None else [finding]


def _fresh_randomness(
    ctx: ProbeContext,
    caller: Caller,
    reseed: Callable[[], None],
    first: list[tuple[bytes, ...]],
    make: Callable[[], Any] | None,
) -> bool:
    """Whether host 0's first batches differ when read again from the same random state."""
    reseed()
    host = HostInfo(0, ctx.hosts, f"check_loader(hosts={ctx.hosts})")
    again = _Pass(ctx, caller, host, make).rows(min(_REPEAT, len(first)))
    return again != first[: len(again)]


def _compare(ctx: ProbeContext, passes: list[list[tuple[bytes, ...]]]) -> Finding | None:
    """TSG403 when sample rows are read by more than one simulated host, else None."""
    readers: collections.Counter[bytes] = collections.Counter()
    for batches in passes:
        readers.update({row for rows in batches for row in rows})
    first = {row for rows in passes[0] for row in rows}
    shared = [row for row in first if readers[row] > 1]
    if not first or not shared:
        return None
    times = collections.Counter(readers[row] for row in readers if readers[row] > 1)
    if len(times) == 1:
        [(k, count)] = times.items()
        read = f"each of {count} {'item' if count == 1 else 'items'} would be read {k} times"
    else:
        parts = [f"{count} items {k} times" for k, count in sorted(times.items())]
        read = f"{' and '.join(parts)} would be read"
    every = len(shared) == len(first) and set(times) == {ctx.hosts}
    what = (
        f"every one of the {len(first)} sample rows host 0 read was read by all {ctx.hosts} hosts"
        if every
        else f"{len(shared)} of the {len(first)} sample rows host 0 read were read by other hosts too"
    )
    severity = Severity.ERROR if 2 * len(shared) >= len(first) else Severity.WARNING
    return make_finding(
        "TSG403",
        path="loader",
        message=(
            f"with hosts={ctx.hosts}, {what}: per epoch, {read} across the hosts "
            f"({read_factor(times)} the loading work; unless the framework drops the "
            "copies, the model also trains on each of them that many times). The loader does "
            "not split its data by host"
        ),
        severity=severity,
        details={
            "hosts": ctx.hosts,
            "rows": len(first),
            "shared_rows": len(shared),
            "times_read": {str(k): v for k, v in sorted(times.items())},
        },
    )


def read_factor(times: collections.Counter[int]) -> str:
    """``"2x"`` when every shared item is read the same number of times, else ``"up to 3x"``."""
    most = max(times)
    return f"{most}x" if len(times) == 1 else f"up to {most}x"


def _note(ctx: ProbeContext) -> str:
    if ctx.hosts < 2:
        return "not asked: pass hosts=N to simulate N hosts"
    return f"simulated {ctx.hosts} hosts, up to {ctx.max_batches} batches each"


PROBES = (Probe("hosts", probe_hosts, in_process=True, note=_note),)
