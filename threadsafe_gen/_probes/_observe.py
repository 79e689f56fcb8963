"""What a call of the loader does besides returning a batch: the attributes it assigns and the
random numbers it draws.

Watched in the forked canary (``sequential.py``), where instrumenting the interpreter cannot
affect the caller: the child patches RNG constructors and the loader class's ``__setattr__``,
then records, per call,

* the loader attributes the call assigns (``self.x = ...``), whatever the values: a random
  value that happens to repeat is still a write, so TSG303's severity does not depend on
  luck (issue 10 item 9);
* the RNGs whose state the call consumed: numpy's global RNG, the ``random`` module's, RNG
  objects reachable from the loader, and RNG objects held by any module. Only a call that
  drew random numbers is random: outputs that differ between calls (a cursor) are not
  (issue 10 item 4). ``random``'s global RNG is reseeded in every forked child, the others
  are copied with their state;
* the RNGs the call created, and whether it seeded them (``RandomState(index)``: the same
  "random" numbers for that index in every epoch, issue 10 item 18).

:class:`Observation` is what the parent receives, one :class:`CallUse` per call.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pickle
import random
import select
import socket
import stat
import sys
import threading
from collections.abc import Callable
from typing import Any

from .._text import short_repr

fcntl: Any
try:
    import fcntl
except ImportError:  # Windows: no fork either, so no canary to run this in
    fcntl = None

__all__ = [
    "NUMPY_GLOBAL",
    "STDLIB_GLOBAL",
    "CallUse",
    "InheritedHandles",
    "ModuleScan",
    "Observation",
    "Observer",
    "usable",
]

#: Source names of the two global RNGs.
NUMPY_GLOBAL = "numpy.random (global RNG)"
STDLIB_GLOBAL = "random (global RNG)"

#: Seeded creations kept per call (for the message; the count is what decides).
_MAX_SEEDED = 4

#: The functions that seed a global RNG, and the source each seeds.
_GLOBAL_SEEDERS = {"numpy.random.seed": NUMPY_GLOBAL, "random.seed": STDLIB_GLOBAL}


@dataclasses.dataclass(frozen=True)
class CallUse:
    """One observed call: ``loader[index]``.

    Attributes:
        index: the index called.
        writes: loader attributes the call assigned.
        drew: RNG sources whose state the call consumed (:data:`NUMPY_GLOBAL`,
            :data:`STDLIB_GLOBAL`, ``loader.rng``, ``module some.module.RNG``).
        seeded: RNGs the call created with an explicit seed, as ``RandomState(3)``.
        unseeded: RNGs the call created without a seed (fresh entropy).
        sockets: descriptors of sockets inherited from the parent that the call sent bytes
            on (see :class:`InheritedHandles`).
        offsets: descriptors of files inherited from the parent whose offset the call moved
            (a seek or read that forked workers would share).
        reseeded: global RNGs the call seeded (``np.random.seed``, ``random.seed``): what it
            draws from them afterwards does not come from the parent's state.
        raised: the exception type the call raised in the canary, or ``""``.
    """

    index: int
    writes: tuple[str, ...] = ()
    drew: tuple[str, ...] = ()
    seeded: tuple[str, ...] = ()
    unseeded: int = 0
    sockets: tuple[int, ...] = ()
    offsets: tuple[int, ...] = ()
    reseeded: tuple[str, ...] = ()
    raised: str = ""


@dataclasses.dataclass(frozen=True)
class Observation:
    """The calls the canary observed, in order; the first *peek* of them are Keras' peek."""

    calls: tuple[CallUse, ...]
    peek: int = 2
    complete: bool = True
    """False when a call raised in the canary and not in this process (it used a socket the
    canary had cut off, say): what it drew and assigned was then not seen."""

    @property
    def shared(self) -> dict[int, tuple[int, str]]:
        """Inherited descriptors a call used as forked workers cannot share (sent on a
        socket, moved a file offset): fd -> (first such index, ``"socket"`` or ``"file"``)."""
        used: dict[int, tuple[int, str]] = {}
        for c in self.calls:
            for fd in c.sockets:
                used.setdefault(fd, (c.index, "socket"))
            for fd in c.offsets:
                used.setdefault(fd, (c.index, "file"))
        return used

    @property
    def drew(self) -> set[str]:
        """Every RNG source a call drew from."""
        return {s for c in self.calls for s in c.drew}

    @property
    def inherited(self) -> set[str]:
        """Sources drawn from as a forked worker inherits them: with the parent's state. Not
        ``random``'s global RNG (Python reseeds it in every forked child), nor a global RNG
        after a call reseeded it (``threadsafe_gen.keras.guard`` does, per worker)."""
        reseeded = {STDLIB_GLOBAL}
        found: set[str] = set()
        for c in self.calls:
            reseeded |= set(c.reseeded)
            found |= set(c.drew) - reseeded
        return found

    @property
    def counter_seeded(self) -> bool:
        """One index called twice seeded its RNG with two different seeds: the seed comes
        from state the loader keeps (a batch counter, as ImageDataGenerator's iterators
        seed from ``seed + total_batches_seen``), which every forked worker copies."""
        seeds: dict[tuple[int, str], set[str]] = {}
        for c in self.calls:
            for entry in c.seeded:
                maker, _, seed = entry.partition("(")
                seeds.setdefault((c.index, maker), set()).add(seed)
        return any(len(values) > 1 for values in seeds.values())

    @property
    def seeded(self) -> list[str]:
        """The seeded RNG creations of every call, in order (a few)."""
        return [s for c in self.calls for s in c.seeded]

    @property
    def unseeded(self) -> int:
        """RNGs the calls created without a seed (fresh entropy: random every call)."""
        return sum(c.unseeded for c in self.calls)

    @property
    def random(self) -> bool:
        """Whether any call drew random numbers at all, from any RNG."""
        return any(c.drew or c.seeded or c.unseeded for c in self.calls)

    def written(self, *, after_peek: bool) -> set[str]:
        """Attributes assigned by the peek calls (False) or by any later call (True)."""
        calls = self.calls[self.peek :] if after_peek else self.calls[: self.peek]
        return {name for c in calls for name in c.writes}

    @classmethod
    def from_messages(cls, messages: list[dict[str, Any]], peek: int) -> Observation:
        """Rebuild the observation from the canary's ``("use", ...)`` messages."""
        return cls(tuple(CallUse(**m) for m in messages), peek)

    def compared_with(self, ok_here: set[int]) -> Observation:
        """This observation, incomplete if a call raised in the canary at an index of
        *ok_here* (indices that returned in this process)."""
        missed = any(c.raised and c.index in ok_here for c in self.calls)
        return dataclasses.replace(self, complete=self.complete and not missed)


def usable(observed: Observation | None) -> Observation | None:
    """*observed* when it saw every call as this process runs it, else None (judge by
    results alone)."""
    return observed if observed is not None and observed.complete else None


# --- RNG state ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Kinds:
    """The RNG classes, read before the observer patches their names."""

    stdlib: type[random.Random]
    generator: Any = None
    random_state: Any = None
    bit_generator: Any = None
    seed_sequence: Any = None

    @classmethod
    def now(cls) -> _Kinds:
        np = sys.modules.get("numpy")
        if np is None:
            return cls(random.Random)
        r = np.random
        return cls(random.Random, r.Generator, r.RandomState, r.BitGenerator, r.SeedSequence)

    @property
    def rngs(self) -> tuple[type, ...]:
        found = (self.stdlib, self.generator, self.random_state, self.bit_generator)
        return tuple(t for t in found if t is not None)

    def state(self, obj: Any) -> bytes | None:
        """A comparable snapshot of an RNG's state, or None when it cannot be read."""
        try:
            if isinstance(obj, self.stdlib):
                return pickle.dumps(obj.getstate())
            if self.generator is not None and isinstance(obj, self.generator):
                return pickle.dumps(obj.bit_generator.state)
            if self.random_state is not None and isinstance(obj, self.random_state):
                return pickle.dumps(obj.get_state(legacy=False))
            if self.bit_generator is not None and isinstance(obj, self.bit_generator):
                return pickle.dumps(obj.state)
        except Exception:  # SystemRandom and friends have no state to compare
            return None
        return None

    def derived(self, seed: Any) -> bool:
        """An RNG made from another RNG or a SeedSequence: no seed of its own."""
        kinds = (*self.rngs, *([self.seed_sequence] if self.seed_sequence else []))
        return isinstance(seed, kinds)


def _constructors() -> list[tuple[Any, str, Any]]:
    """(module, name, object) of every RNG constructor the observer traces."""
    found: list[tuple[Any, str, Any]] = []
    modules: list[tuple[Any, tuple[str, ...]]] = [(random, ("Random", "seed"))]
    np = sys.modules.get("numpy")
    if np is not None:
        names = ("RandomState", "default_rng", "seed", "SeedSequence", "MT19937", "PCG64")
        modules.append((np.random, (*names, "PCG64DXSM", "Philox", "SFC64")))
    for module, names_ in modules:
        for name in names_:
            obj = getattr(module, name, None)
            if obj is not None:
                found.append((module, name, obj))
    return found


@dataclasses.dataclass(frozen=True)
class ModuleScan:
    """What the modules hold that the observer needs: RNG objects at module level (a
    library's hidden global RNG), and where RNG constructors are bound by name (``from
    numpy.random import RandomState``). Made in the parent before the canary forks: walking
    every module in the child would copy most of its memory (each reference counted touches
    a page), which costs more than the scan."""

    rngs: tuple[tuple[str, Any], ...]
    bindings: tuple[tuple[dict[str, Any], str, Any], ...]

    @classmethod
    def now(cls) -> ModuleScan:
        """The scan of ``sys.modules`` now (cached while no module is added)."""
        key = len(sys.modules)
        cached = _SCAN.get(key)
        if cached is None:
            _SCAN.clear()
            cached = _SCAN[key] = cls._scan()
        return cached

    @classmethod
    def _scan(cls) -> ModuleScan:
        kinds = _Kinds.now()
        skip = {id(random._inst)}
        np = sys.modules.get("numpy")
        if np is not None:
            skip.add(id(np.random.mtrand._rand))
        constructors = {id(obj): obj for _, _, obj in _constructors()}
        verdict: dict[type, bool] = {}
        rngs: list[tuple[str, Any]] = []
        bindings: list[tuple[dict[str, Any], str, Any]] = []
        for name, module in list(sys.modules.items()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for key, value in list(namespace.items()):
                if id(value) in constructors and constructors[id(value)] is value:
                    bindings.append((namespace, key, value))
                    continue
                t = type(value)
                hit = verdict.get(t)
                if hit is None:
                    hit = verdict[t] = issubclass(t, kinds.rngs)
                if hit and id(value) not in skip:
                    skip.add(id(value))
                    rngs.append((f"module {name}.{key}", value))
        return cls(tuple(rngs), tuple(bindings))


_SCAN: dict[int, ModuleScan] = {}


def _sources(reachable: list[tuple[str, Any]], scan: ModuleScan) -> list[tuple[str, Any]]:
    """Every RNG a call could draw from, by name (*reachable*: those on the loader)."""
    found: list[tuple[str, Any]] = [(STDLIB_GLOBAL, random._inst)]
    np = sys.modules.get("numpy")
    if np is not None:
        found.append((NUMPY_GLOBAL, np.random.mtrand._rand))
    seen = {id(obj) for _, obj in found}
    for name, obj in [*reachable, *scan.rngs]:
        if id(obj) not in seen:
            seen.add(id(obj))
            found.append((name, obj))
    return found


# --- the observer (runs in the forked canary only) -----------------------------------------


class Observer:
    """Instruments this process (a forked child) to observe the calls of *loader*, whose
    reachable RNG objects are *reachable* (``inspection.walk(loader).rngs``), with the
    parent's *scan* of its modules.

    It patches RNG constructors everywhere they are bound (numpy.random, random and every
    module that imported them by name) and the loader class's ``__setattr__``; the process
    exits afterwards, so nothing is restored.
    """

    def __init__(self, loader: Any, reachable: list[tuple[str, Any]], scan: ModuleScan) -> None:
        self.loader = loader
        self.kinds = _Kinds.now()
        self.sources = [
            (name, obj) for name, obj in _sources(reachable, scan) if self.kinds.state(obj)
        ]
        self._writes: list[str] = []
        self._created: list[tuple[str, bool]] = []
        self._reseeded: set[str] = set()
        self._recording = False
        self._depth = 0
        self._patch_constructors(scan)
        self._patch_setattr()

    def call(
        self, index: int, fn: Callable[[], Any], handles: InheritedHandles | None = None
    ) -> tuple[CallUse, BaseException | None]:
        """Run ``fn()`` (the call of *index*): what it did, and what it raised."""
        offsets = handles.offsets() if handles is not None else {}
        before = [self.kinds.state(obj) for _, obj in self.sources]
        self._writes, self._created, self._reseeded = [], [], set()
        self._recording = True
        error: BaseException | None = None
        try:
            fn()
        except BaseException as exc:  # the canary reports deaths only; exceptions are data
            error = exc
        finally:
            self._recording = False
            after = [self.kinds.state(obj) for _, obj in self.sources]
        drew = tuple(
            name for (name, _), a, b in zip(self.sources, before, after, strict=True) if a != b
        )
        seeded = tuple(what for what, has_seed in self._created if has_seed)
        use = CallUse(
            index=index,
            writes=tuple(dict.fromkeys(self._writes)),
            drew=drew,
            seeded=seeded[:_MAX_SEEDED],
            unseeded=sum(1 for _, has_seed in self._created if not has_seed),
            sockets=handles.take() if handles is not None else (),
            offsets=handles.moved(offsets) if handles is not None else (),
            reseeded=tuple(sorted(self._reseeded)),
            raised=type(error).__name__ if error is not None else "",
        )
        return use, error

    # --- attribute writes

    def _patch_setattr(self) -> None:
        cls: Any = type(self.loader)
        original: Callable[[Any, str, Any], None] = cls.__setattr__
        observer = self

        def __setattr__(obj: Any, name: str, value: Any) -> None:
            if observer._recording and obj is observer.loader:
                observer._writes.append(name)
            original(obj, name, value)

        try:
            cls.__setattr__ = __setattr__
        except (TypeError, AttributeError):  # a built-in or extension type: no writes seen
            pass

    # --- RNG constructors

    def _patch_constructors(self, scan: ModuleScan) -> None:
        wrapped: dict[int, Any] = {}
        for module, name, original in _constructors():
            if id(original) not in wrapped:
                wrapped[id(original)] = self._traced(original, f"{module.__name__}.{name}")
            if wrapped[id(original)] is not None:
                setattr(module, name, wrapped[id(original)])
        # Names imported with `from numpy.random import RandomState` are bound elsewhere too.
        for namespace, key, original in scan.bindings:
            replacement = wrapped.get(id(original))
            if replacement is not None and namespace.get(key) is original:
                namespace[key] = replacement

    def _traced(self, original: Any, qualname: str) -> Any:
        observer = self
        short = qualname.rpartition(".")[2]

        def record(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            # A constructor that another traced one calls (default_rng makes a PCG64) is
            # part of the outer creation, not one of its own.
            if not observer._recording or observer._depth:
                return
            seed = args[0] if args else next(iter(kwargs.values()), None)
            derived = observer.kinds.derived(seed)
            has_seed = seed is not None and not derived
            shown = short_repr(seed, 40) if has_seed else ""
            observer._created.append((f"{qualname}({shown})", has_seed))
            if qualname in _GLOBAL_SEEDERS:
                observer._reseeded.add(_GLOBAL_SEEDERS[qualname])

        def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            record(args[1:] if fn is not original else args, kwargs)
            observer._depth += 1
            try:
                return fn(*args, **kwargs)
            finally:
                observer._depth -= 1

        if isinstance(original, type):
            return _recording_subclass(original, short, run)

        @functools.wraps(original)
        def call(*args: Any, **kwargs: Any) -> Any:
            return run(original, *args, **kwargs)

        return call


def _recording_subclass(original: type, name: str, run: Callable[..., Any]) -> type | None:
    """A subclass of *original* whose ``__init__`` goes through *run* (None if final)."""

    init: Callable[..., None] = original.__init__  # type: ignore[misc]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        run(init, self, *args, **kwargs)

    try:
        return type(name, (original,), {"__init__": __init__})
    except TypeError:
        return None


# --- inherited handles (the canary's only) ---------------------------------------------------


class InheritedHandles:
    """The sockets and files this forked child inherited, swapped for copies it can watch.

    A forked worker that sends requests on its parent's connection shares one server
    session with the parent and the other workers (replies interleave, rows go to the wrong
    process, a worker waits forever), and one that seeks and reads an inherited descriptor
    shares its offset (wrong rows): docs/failure-modes.md rows 2b and 2b''. Whether a dry run
    shows it is luck; this makes it certain, and harmless to the parent.

    * A stream socket becomes one end of a fresh socket pair: a watcher thread sees bytes
      arrive at the other end, records the descriptor and closes that end, so the call reads
      end-of-file instead of waiting for a reply. (Datagram sockets are left alone.)
    * A regular file open for reading becomes a new open of the same file at the same
      offset, so the child's seeks and reads no longer move the parent's offset; a call that
      moves it is recorded (``pread`` and memory maps do not move offsets: they are safe).
    """

    def __init__(self, keep: set[int]) -> None:
        self._used: set[int] = set()
        self._lock = threading.Lock()
        self._peers: dict[socket.socket, int] = {}
        self._files: list[int] = []
        for fd in _open_fds():
            if fd <= 2 or fd in keep:
                continue
            try:
                mode = os.fstat(fd).st_mode
                if stat.S_ISSOCK(mode):
                    self._swap_socket(fd)
                elif stat.S_ISREG(mode):
                    self._swap_file(fd)
            except (OSError, ValueError):  # an exotic descriptor: left as it is
                continue
        if self._peers:
            threading.Thread(target=self._watch, name="threadsafe_gen-sockets", daemon=True).start()

    def _swap_socket(self, fd: int) -> None:
        probe = socket.socket(fileno=os.dup(fd))
        try:
            stream = probe.type == socket.SOCK_STREAM
        finally:
            probe.close()
        if not stream:
            return  # datagrams (statsd, syslog) are whole messages: sharing them is harmless
        ours, peer = socket.socketpair()
        os.dup2(ours.fileno(), fd)
        ours.close()
        self._peers[peer] = fd

    def _swap_file(self, fd: int) -> None:
        if fcntl is None:
            return
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        if flags & os.O_APPEND or flags & os.O_ACCMODE == os.O_WRONLY:
            return  # appends and write-only logs: no offset that readers share
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        fresh = os.open(f"/proc/self/fd/{fd}", flags & os.O_ACCMODE)
        try:
            os.lseek(fresh, offset, os.SEEK_SET)
            os.dup2(fresh, fd)
        finally:
            os.close(fresh)
        self._files.append(fd)

    def _watch(self) -> None:
        while self._peers:
            ready, _, _ = select.select(list(self._peers), [], [], 0.05)
            for peer in ready:
                fd = self._peers.pop(peer)
                with self._lock:
                    self._used.add(fd)
                peer.close()

    def take(self) -> tuple[int, ...]:
        """The socket descriptors sent on since the last call of take()."""
        with self._lock:
            used, self._used = tuple(sorted(self._used)), set()
        return used

    def offsets(self) -> dict[int, int]:
        """The current offsets of the inherited files."""
        found: dict[int, int] = {}
        for fd in self._files:
            try:
                found[fd] = os.lseek(fd, 0, os.SEEK_CUR)
            except OSError:
                continue
        return found

    def moved(self, before: dict[int, int]) -> tuple[int, ...]:
        """The inherited files whose offset differs from *before*."""
        now = self.offsets()
        return tuple(fd for fd, offset in before.items() if now.get(fd, offset) != offset)


def _open_fds() -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir("/proc/self/fd"))
    except OSError:
        return list(range(3, 256))
