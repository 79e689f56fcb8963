"""Property tests for data loaders, built on Hypothesis (the ``[testing]`` extra).

``check_loader()`` runs one bounded dry run. These helpers let a test suite explore many more
schedules: index orders, worker counts, epochs and thread interleavings, drawn by Hypothesis,
which shrinks a failure to the smallest schedule that still fails and prints it.

- :func:`assert_pure_getitem`: ``loader[i]`` is a pure function of ``i``, whatever order,
  thread or epoch asks for it.
- :func:`assert_exactly_once`: a shared iterator (e.g. ``threadsafe_iter(gen())``) hands
  out every item exactly once to concurrent threads.
- :func:`schedules`, :func:`index_orders`, :func:`worker_counts`: the strategies, for your own
  ``@given`` tests.

Install with ``pip install threadsafe-gen[testing]``. Importing this module imports
Hypothesis; ``import threadsafe_gen`` does not.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from ._text import short_repr

__all__ = [
    "Schedule",
    "assert_exactly_once",
    "assert_pure_getitem",
    "index_orders",
    "schedules",
    "worker_counts",
]

# NOTE [ Deterministic interleavings ]
# assert_pure_getitem runs each call on the real thread of its drawn worker, but one call at
# a time, in the drawn order (threads take turns through a Condition). The interleaving is
# then part of the example, so Hypothesis can replay and shrink it exactly, and thread-bound
# resources (a sqlite3 connection used from another thread) still fail as they would in
# Keras. Races *inside* one call cannot be replayed this way; assert_exactly_once runs
# threads freely instead and repeats each example to catch them.


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Which worker calls which index, in which order, in which epoch.

    Attributes:
        workers: number of worker threads.
        calls: ``(epoch, worker, index)`` in the order the calls run.
    """

    workers: int
    calls: tuple[tuple[int, int, int], ...]

    @property
    def epochs(self) -> int:
        """How many epochs the schedule spans."""
        return 1 + max((c[0] for c in self.calls), default=0)

    def __str__(self) -> str:
        lines = [f"Schedule(workers={self.workers}, epochs={self.epochs}), calls in order:"]
        for epoch, worker, index in self.calls:
            lines.append(f"  epoch {epoch}: worker {worker} -> loader[{index}]")
        return "\n".join(lines)


def worker_counts(max_workers: int = 8) -> st.SearchStrategy[int]:
    """Worker counts from 1 to *max_workers* (shrinks towards 1).

    >>> worker_counts(4).example() in range(1, 5)  # doctest: +SKIP
    True
    """
    if max_workers < 1:
        msg = f"worker_counts() expected max_workers >= 1, got {max_workers!r}"
        raise ValueError(msg)
    return st.integers(min_value=1, max_value=max_workers)


def index_orders(n: int, *, full: bool = True) -> st.SearchStrategy[list[int]]:
    """Orders of the indices ``0..n-1``.

    Args:
        n: number of batches (``len(loader)``).
        full: every index exactly once (a permutation, as Keras asks in an epoch); with
            ``False``, any non-empty list of indices, repeats allowed (shrinks to one call).
    """
    if n < 1:
        msg = f"index_orders() expected n >= 1 (the loader's length), got {n!r}"
        raise ValueError(msg)
    if full:
        return st.permutations(range(n))
    return st.lists(st.integers(min_value=0, max_value=n - 1), min_size=1, max_size=2 * n)


@st.composite
def schedules(
    draw: st.DrawFn,
    n: int,
    *,
    max_workers: int = 4,
    max_epochs: int = 2,
    full_epochs: bool = False,
) -> Schedule:
    """Draw a :class:`Schedule` over ``n`` indices.

    Args:
        n: number of batches.
        max_workers: most worker threads.
        max_epochs: most epochs.
        full_epochs: every epoch calls each index exactly once (as Keras does); with
            ``False`` (default) an epoch is any short list of calls, which lets Hypothesis
            shrink a failure to one or two calls.
    """
    workers = draw(worker_counts(max_workers))
    epochs = draw(st.integers(min_value=1, max_value=max(1, max_epochs)))
    calls: list[tuple[int, int, int]] = []
    for epoch in range(epochs):
        order = draw(index_orders(n, full=full_epochs))
        owners = draw(
            st.lists(
                st.integers(min_value=0, max_value=workers - 1),
                min_size=len(order),
                max_size=len(order),
            )
        )
        calls.extend((epoch, w, i) for w, i in zip(owners, order, strict=True))
    return Schedule(workers, tuple(calls))


# --- fingerprints -------------------------------------------------------------------------


def _fingerprint(value: Any) -> str:
    """A digest of a batch's content (arrays by dtype, shape and bytes; containers recursively)."""
    h = hashlib.blake2b(digest_size=16)

    def feed(v: Any) -> None:
        if isinstance(v, np.ndarray) or type(v).__module__.startswith(("tensorflow", "jax")):
            arr = np.asarray(v)
            h.update(f"A{arr.dtype.str}{arr.shape}".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        elif isinstance(v, dict):
            h.update(b"D")
            for k in sorted(v, key=repr):
                h.update(repr(k).encode())
                feed(v[k])
        elif isinstance(v, (list, tuple)):
            h.update(f"L{len(v)}".encode())
            for item in v:
                feed(item)
        else:
            h.update(b"S" + repr(v).encode())

    feed(value)
    return h.hexdigest()


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        flat = value.ravel()[:4]
        return f"array(shape={value.shape}, dtype={value.dtype}, first values {flat.tolist()})"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_describe(v) for v in value[:3])
        return f"{type(value).__name__}({inner}{', ...' if len(value) > 3 else ''})"
    return short_repr(value, limit=100)


# --- turn-taking executor -----------------------------------------------------------------


class _Turns:
    """Run calls on their drawn worker threads, strictly one at a time in the drawn order."""

    def __init__(self, workers: int) -> None:
        self.cond = threading.Condition()
        self.turn = 0
        self.workers = workers

    def run(self, calls: list[tuple[int, Callable[[], Any]]], timeout: float) -> list[Any]:
        self.turn = 0
        results: list[Any] = [None] * len(calls)
        errors: list[BaseException | None] = [None] * len(calls)
        mine: dict[int, list[int]] = collections.defaultdict(list)
        for pos, (worker, _) in enumerate(calls):
            mine[worker].append(pos)

        def worker_main(worker: int) -> None:
            for pos in mine[worker]:

                def my_turn(p: int = pos) -> bool:
                    return self.turn == p

                with self.cond:
                    if not self.cond.wait_for(my_turn, timeout):
                        return
                try:
                    results[pos] = calls[pos][1]()
                except BaseException as exc:  # reported with the schedule, not swallowed
                    errors[pos] = exc
                with self.cond:
                    self.turn += 1
                    self.cond.notify_all()

        threads = [
            threading.Thread(target=worker_main, args=(w,), name=f"tsg-worker-{w}", daemon=True)
            for w in range(self.workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout)
        if any(t.is_alive() for t in threads):
            msg = f"a call did not return within {timeout} s (position {self.turn} of the schedule)"
            raise AssertionError(msg)
        for pos, exc in enumerate(errors):
            if exc is not None:
                msg = f"call #{pos} of the schedule raised {type(exc).__name__}: {exc}"
                raise AssertionError(msg) from exc
        return results


def _is_loader(obj: Any) -> bool:
    return hasattr(type(obj), "__getitem__") and hasattr(type(obj), "__len__")


def _loader_factory(loader: Any) -> tuple[Callable[[], Any], int]:
    # assert_pure_getitem's argument: a loader or a factory; returns the factory and len().
    if _is_loader(loader):
        factory: Callable[[], Any] = lambda: loader  # noqa: E731 - the same object each time
    elif callable(loader):
        factory = loader
    else:
        msg = (
            "assert_pure_getitem() expected a loader (with __getitem__ and __len__) or a "
            f"zero-argument factory returning one, got {loader!r} (type={type(loader).__name__})"
        )
        raise TypeError(msg)
    probe = factory()
    if not _is_loader(probe):
        msg = (
            f"assert_pure_getitem(): the factory returned {probe!r} "
            f"(type={type(probe).__name__}), which has no __getitem__ and __len__"
        )
        raise TypeError(msg)
    n = len(probe)
    if n < 1:
        msg = f"assert_pure_getitem() needs a non-empty loader, got len={n}"
        raise ValueError(msg)
    return factory, n


def _check_schedule(ds: Any, n: int, schedule: Schedule, call_timeout: float) -> None:
    # One example of assert_pure_getitem: run the schedule, then compare with a sequential
    # pass in the same epoch.
    turns = _Turns(schedule.workers)
    for epoch in range(schedule.epochs):
        if epoch:
            hook = getattr(ds, "on_epoch_end", None)
            if callable(hook):
                hook()
        calls = [(w, i) for e, w, i in schedule.calls if e == epoch]
        results = turns.run(
            [(w, functools.partial(ds.__getitem__, i)) for w, i in calls], call_timeout
        )
        got = [_fingerprint(r) for r in results]
        reference: dict[int, tuple[str, Any]] = {}
        for i in range(n):
            value = ds[i]
            reference[i] = (_fingerprint(value), value)
        for (worker, index), fp, value in zip(calls, got, results, strict=True):
            if fp != reference[index][0]:
                msg = (
                    f"loader[{index}] is not a pure function of its index: in epoch "
                    f"{epoch}, worker {worker} got\n    {_describe(value)}\nbut a "
                    f"sequential pass right after, in the same epoch, gives\n    "
                    f"{_describe(reference[index][1])}\n{schedule}\n"
                    "Keep per-call state in local variables, per-worker resources in "
                    "threadsafe_gen.per_thread/per_process, and seed randomness by index "
                    "(threadsafe_gen.rng_for). (TSG301, see docs/checks.md#tsg301)"
                )
                raise AssertionError(msg)


def assert_pure_getitem(
    loader: Any,
    *,
    max_examples: int = 50,
    max_workers: int = 4,
    max_epochs: int = 2,
    full_epochs: bool = False,
    call_timeout: float = 30.0,
    hypothesis_settings: settings | None = None,
) -> int:
    """Assert that ``loader[i]`` is a pure function of ``i`` across orders, threads and epochs.

    For each drawn :class:`Schedule` the calls run on real worker threads, one at a time in
    the drawn order (see the module's NOTE on interleavings); then, in the same epoch, a
    sequential pass ``loader[0], loader[1], ...`` is the reference. Any call whose result
    differs from the reference for its index fails, and Hypothesis shrinks the schedule to
    the smallest one that still fails (often a single call, such as ``loader[1]`` first).
    Results are compared after the whole schedule, so a buffer reused between calls fails
    too. ``on_epoch_end()`` is called between epochs when the loader has it.

    Args:
        loader: a loader (``__getitem__`` and ``__len__``), or a zero-argument factory
            returning one; with a factory every example gets a fresh loader, so state cannot
            leak between examples and shrinking is exact.
        max_examples: schedules to try.
        max_workers: most worker threads in a schedule.
        max_epochs: most epochs in a schedule.
        full_epochs: every epoch calls each index exactly once (Keras' pattern) instead of
            short call lists.
        call_timeout: seconds a single call may take before the example fails.
        hypothesis_settings: full Hypothesis settings, overriding *max_examples*.

    Returns:
        How many schedules were run (Hypothesis may stop early once it has explored them all).

    Raises:
        AssertionError: a schedule where ``loader[i]`` differed, raised or hung; the message
            shows the schedule, the index and the two results.
        TypeError: *loader* is neither a loader nor a factory.

    >>> class Squares:
    ...     def __len__(self):
    ...         return 3
    ...     def __getitem__(self, i):
    ...         return [i * i]
    >>> assert_pure_getitem(Squares, max_examples=5) > 0
    True
    """
    __tracebackhide__ = True
    factory, n = _loader_factory(loader)
    tried = 0

    def check(schedule: Schedule) -> None:
        nonlocal tried
        tried += 1
        _check_schedule(factory(), n, schedule, call_timeout)

    cfg = hypothesis_settings or settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    strategy = schedules(n, max_workers=max_workers, max_epochs=max_epochs, full_epochs=full_epochs)
    given(strategy)(cfg(check))()
    return tried


def _drain_paced(it: Iterator[Any], pace: int, out: list[Any], errors: list[str], k: int) -> None:
    # One thread of assert_exactly_once: next() until the end, yielding the GIL every
    # `pace` items.
    n = 0
    while True:
        if pace and n % pace == 0:
            # Yield the GIL so another thread can enter the iterator now.
            threading.Event().wait(0)
        try:
            item = next(it)
        except StopIteration:
            return
        except Exception as exc:
            errors.append(f"thread {k}: {type(exc).__name__}: {exc}")
            return
        out.append(item)
        n += 1


def _share_once(
    factory: Callable[[], Iterable[Any]],
    pace: tuple[int, ...],
    timeout: float,
    switch_interval: float,
    reference: collections.Counter[str],
) -> str | None:
    # One run of assert_exactly_once: len(pace) threads drain one iterator; the problem, or None.
    threads = len(pace)
    it: Iterator[Any] = iter(factory())
    got: list[list[Any]] = [[] for _ in range(threads)]
    errors: list[str] = []
    barrier = threading.Barrier(threads)

    def drain(k: int) -> None:
        barrier.wait()
        _drain_paced(it, pace[k], got[k], errors, k)

    workers = [threading.Thread(target=drain, args=(k,), daemon=True) for k in range(threads)]
    # A tiny switch interval makes the interpreter switch threads far more often, also
    # inside the iterator's frame, so races that need an unlucky switch show up in a
    # short run. Restored right after: it is process-wide.
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval)
    try:
        for t in workers:
            t.start()
        for t in workers:
            t.join(timeout)
    finally:
        sys.setswitchinterval(old_interval)
    if any(t.is_alive() for t in workers):
        return f"the threads did not finish within {timeout} s (a deadlock or an endless iterator)"
    if errors:
        return "; ".join(errors[:3])
    counts = collections.Counter(_fingerprint(x) for items in got for x in items)
    if counts != reference:
        extra = sum((counts - reference).values())
        missing = sum((reference - counts).values())
        return (
            f"{sum(counts.values())} items arrived for {sum(reference.values())} expected: "
            f"{extra} duplicated, {missing} missing"
        )
    return None


def assert_exactly_once(
    factory: Callable[[], Iterable[Any]],
    *,
    max_examples: int = 30,
    max_threads: int = 8,
    repeats: int = 3,
    timeout: float = 30.0,
    switch_interval: float = 1e-6,
    hypothesis_settings: settings | None = None,
) -> int:
    """Assert that threads sharing one iterator from *factory* get every item exactly once.

    A sequential ``list(factory())`` is the reference. Each example draws a thread count and
    a per-thread pace (how often each thread yields the CPU between ``next()`` calls); the
    threads start together on a :class:`threading.Barrier` and drain one shared iterator.
    Any exception (``ValueError: generator already executing``), duplicate or missing item
    fails. Races are nondeterministic, so each example runs *repeats* times; a failure that
    does not reproduce on every run is still reported, with its schedule.

    Args:
        factory: zero-argument callable returning a fresh finite iterable, e.g.
            ``lambda: threadsafe_gen.threadsafe_iter(make_batches())``.
        max_examples: schedules to try.
        max_threads: most threads sharing the iterator.
        repeats: runs per schedule.
        timeout: seconds a run may take before it fails as a hang.
        switch_interval: :func:`sys.setswitchinterval` during each run (default 1 µs, far
            below CPython's 5 ms), so threads switch often enough to expose races quickly.
        hypothesis_settings: full Hypothesis settings, overriding *max_examples*.

    Returns:
        How many runs were made (schedules x *repeats*).

    Raises:
        AssertionError: items were lost or duplicated, or a thread raised; the message names
            the thread count, the pace and the items.
        TypeError: *factory* is not callable.

    >>> import threadsafe_gen
    >>> def items():
    ...     yield from range(20)
    >>> assert_exactly_once(lambda: threadsafe_gen.threadsafe_iter(items()), max_examples=5) > 0
    True
    """
    __tracebackhide__ = True
    if not callable(factory):  # type: ignore[redundant-expr,unused-ignore]
        msg = (  # type: ignore[unreachable,unused-ignore]
            "assert_exactly_once() expected a zero-argument factory returning a fresh iterable "
            f"(e.g. lambda: threadsafe_iter(gen())), got {factory!r} (type={type(factory).__name__})"
        )
        raise TypeError(msg)
    reference = collections.Counter(_fingerprint(x) for x in factory())

    @st.composite
    def paces(draw: st.DrawFn) -> tuple[int, tuple[int, ...]]:
        threads = draw(st.integers(min_value=2, max_value=max(2, max_threads)))
        pace = tuple(draw(st.lists(st.integers(0, 3), min_size=threads, max_size=threads)))
        return threads, pace

    runs = 0

    def check(schedule: tuple[int, tuple[int, ...]]) -> None:
        nonlocal runs
        threads, pace = schedule
        runs += repeats
        for run in range(repeats):
            problem = _share_once(factory, pace, timeout, switch_interval, reference)
            if problem is not None:
                msg = (
                    f"items did not arrive exactly once with {threads} threads sharing one "
                    f"iterator (pace {list(pace)}, run {run + 1} of {repeats}): {problem}. "
                    "Wrap the iterator with threadsafe_gen.threadsafe_iter or decorate the "
                    "generator function with @threadsafe_gen.threadsafe_generator. "
                    "(TSG302, see docs/checks.md#tsg302)"
                )
                raise AssertionError(msg)

    cfg = hypothesis_settings or settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    try:
        given(paces())(cfg(check))()
    except Flaky as exc:
        # A race that did not reproduce while shrinking: still a real failure; report the
        # first one seen instead of Hypothesis' flakiness error.
        first = next(
            (e for e in getattr(exc, "exceptions", ()) if isinstance(e, AssertionError)), exc
        )
        msg = f"{first} (nondeterministic: the race did not reproduce on every run)"
        raise AssertionError(msg) from exc
    return runs
