"""Persistent worker processes that serve many epochs of a generator source.

Used by :class:`~threadsafe_gen.keras.GeneratorDataset` with ``use_multiprocessing=True`` and
by :func:`~threadsafe_gen.keras.to_tf_dataset` with ``persistent_workers=True``: one set of
worker processes for the whole fit, instead of a new set per epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from .._locks import Lock
from .._parallel import parallel_iter, reseed_globals, step_shard
from .._sharding import derive_seed, worker_info
from ._common import MISSING

# NOTE [ One set of worker processes for the whole fit ]
# Starting worker processes every epoch costs about a second under spawn/forkserver (more if
# the generator's module imports TensorFlow). With use_multiprocessing=True, GeneratorDataset (and
# to_tf_dataset(persistent_workers=True)) starts its workers once, through parallel_iter, with
# a body (_persistent_shards) that runs the worker's shard of the source once per epoch and
# then sends an EpochEnd marker. Between epochs a worker waits at a gate: a small file holding
# the highest epoch it may start, polled with a backoff up to _GATE_POLL_S. (A file, because
# multiprocessing's locks refuse to be pickled outside process start-up, where parallel_iter
# checks picklability.) The consumer opens the gate for epoch e+1 only after it has read all
# N markers of epoch e, so items of two epochs never mix and a fast worker cannot run ahead.
# The file lives alone in a private mkdtemp() folder (mode 0700), written only through fresh
# exclusive files, so a symlink planted in the shared temp folder cannot redirect a write.
# Removing the folder ends the workers' loops; close() also terminates them via parallel_iter.

_GATE_POLL_S = 0.05


class EpochEnd:
    """Marker a persistent worker sends after its shard of one epoch."""

    __slots__ = ("epoch",)

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def __reduce__(self) -> Any:
        return (EpochEnd, (self.epoch,))


def _read_gate(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    return int(data) if data else -1


def _write_gate(path: str, epoch: int) -> None:
    # Write then rename: a reader sees the old number or the new one, never half of it. The
    # new number goes to a fresh file that mkstemp creates exclusively (O_CREAT | O_EXCL, mode
    # 0600) under a random name in the gate's private folder: never a predictable name that a
    # planted symlink could redirect to another file
    # (tests/test_keras_persistent.py::test_gate_write_ignores_a_planted_symlink).
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix="epoch_", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(str(epoch).encode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _new_gate(epoch: int) -> str:
    """A gate open up to *epoch*, as a file in a new private (0700) temporary folder."""
    folder = tempfile.mkdtemp(prefix="threadsafe_gen_gate_")
    gate = os.path.join(folder, "gate")
    try:
        _write_gate(gate, epoch)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return gate


def _remove_gate(gate: str, owner_pid: int) -> None:
    # Removing the gate ends the workers' loops; removing its folder leaves nothing behind. Only
    # in the process that made it: a forked child that exits through the interpreter's normal
    # shutdown runs this finalizer too (atexit), and must not stop its parent's workers.
    if os.getpid() == owner_pid:
        shutil.rmtree(os.path.dirname(gate), ignore_errors=True)


def _persistent_shards(source: Any, gate: str, base_seed: int) -> Iterator[Any]:
    """Worker body: this worker's shard of *source*, once per epoch the gate allows."""
    # Asking who we are marks this body self-sharded (see _workers' NOTE [ Auto-sharding
    # rule ]): it yields everything, and each epoch's source shards itself below.
    info = worker_info()
    if info is None:
        msg = "_persistent_shards runs only inside threadsafe_gen's workers."
        raise RuntimeError(msg)
    epoch = info.epoch
    while True:
        pause = 0.001
        while True:
            allowed = _read_gate(gate)
            if allowed is None:
                return  # the dataset was closed
            if allowed >= epoch:
                break
            time.sleep(pause)
            pause = min(2 * pause, _GATE_POLL_S)
        current = dataclasses.replace(
            info, epoch=epoch, seed=derive_seed(base_seed, epoch, info.id)
        )
        if info.kind == "process":
            reseed_globals(current.seed)
        yield from step_shard(source, current)
        yield EpochEnd(epoch)
        epoch += 1


class PersistentShards:
    """Worker processes that serve many epochs of *source* (see NOTE [ One set of worker
    processes for the whole fit ]). Not thread-safe: callers hold their own lock."""

    def __init__(
        self,
        source: Any,
        *,
        workers: int,
        start_method: str | None,
        seed: int,
        timeout: float | None,
        epoch: int,
    ) -> None:
        gate = _new_gate(epoch)
        self._gate: str | None = gate
        # Removed by close(), at garbage collection, or at interpreter exit, whichever is first.
        self._gate_finalizer = weakref.finalize(self, _remove_gate, gate, os.getpid())
        self._workers = workers
        self._ends = 0  # EpochEnd markers read in this epoch
        self.epoch = epoch
        self._stream: Any = None
        try:
            self._stream = parallel_iter(
                functools.partial(_persistent_shards, source, gate, seed),
                workers=workers,
                use_multiprocessing=True,
                start_method=start_method,
                epoch=epoch,
                seed=seed,
                timeout=timeout,
            )
        except BaseException:
            self.close()
            raise

    def next(self) -> Any:
        """The next item of the current epoch, or MISSING once every shard has ended it."""
        while self._ends < self._workers:
            item = next(self._stream, MISSING)
            if item is MISSING:
                return MISSING
            if isinstance(item, EpochEnd):
                self._ends += 1
                continue
            return item
        return MISSING

    def advance(self) -> None:
        """Drop what is left of the current epoch and let the workers start the next one."""
        while self.next() is not MISSING:
            pass
        self._ends = 0
        self.epoch += 1
        if self._gate is not None:
            _write_gate(self._gate, self.epoch)

    def close(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            self._gate_finalizer()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def __del__(self) -> None:
        try:
            if (
                getattr(self, "_gate", None) is not None
                or getattr(self, "_stream", None) is not None
            ):
                self.close()
        except Exception:  # at garbage collection there is no caller to report to
            pass


class SharedShards:
    """Thread-safe access to one PersistentShards for a tf.data pipeline's epochs.

    Each pass over the dataset asks for its own epoch number. tf.data may abandon a pass before
    its end (Keras stops after ``cardinality`` steps) and run the next pass's generator on
    another thread, so items are handed out per epoch under a lock: a late call from an older
    pass gets nothing, and the first call of a newer pass drops what is left of the old one.
    """

    def __init__(self, start: Callable[..., PersistentShards]) -> None:
        # start(epoch=...) makes the PersistentShards, at the first pass's epoch.
        self._start = start
        self._lock = Lock()
        self._shards: PersistentShards | None = None

    def next(self, epoch: int) -> Any:
        with self._lock:
            if self._shards is None:
                self._shards = self._start(epoch=epoch)
            shards = self._shards
            while shards.epoch < epoch:
                shards.advance()
            if shards.epoch != epoch:
                return MISSING  # a pass that was already abandoned
            return shards.next()

    def __del__(self) -> None:
        shards = getattr(self, "_shards", None)
        if shards is not None:
            shards.__del__()
