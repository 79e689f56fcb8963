"""GeneratorDataset: a generator's shards in parallel workers, as a Keras 3 ``PyDataset``.

Public through :mod:`threadsafe_gen.keras` (``threadsafe_gen.keras.GeneratorDataset``), which
builds the class on first access because it subclasses ``keras.utils.PyDataset``: importing
this module does not import Keras.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import numpy as np

from .._hosts import host_info
from .._locks import Lock
from .._parallel import parallel_iter
from .._text import short_repr
from ..errors import PicklingRefusedError
from . import _guard
from ._common import (
    MISSING,
    as_structure,
    check_source,
    check_workers,
    describe,
    use_multiprocessing_arg,
)
from ._persistent import PersistentShards
from ._tf_data import host_seed

# NOTE [ Exactly once per epoch under Keras 3 ]
# Keras 3 asks a PyDataset for `len()` batches per epoch, by index, and also calls ds[0] and
# ds[1] in the training process before the first epoch to infer the output spec. A generator has
# no indices, so GeneratorDataset maps each requested index to the next item of the current
# epoch's parallel stream, with one exception: requests made outside an epoch (the spec peek,
# before on_epoch_begin) are remembered by index and handed out again when that index is asked
# for inside the epoch. So the peek consumes nothing, each epoch draws exactly len() items from a
# fresh run of all N shards, and on_epoch_end checks that the run had no items left over.


class GeneratorDatasetImpl:
    """Run a generator's shards in parallel workers as a Keras 3 ``PyDataset``.

    Use it to train a Keras 3 model on a Python generator with more than one worker: pass a
    call of a :func:`~threadsafe_gen.threadsafe_generator` function (or a zero-argument callable
    returning an iterable, such as a generator function or ``functools.partial``). Every epoch
    re-creates the call in ``workers`` threads or processes; each yields only its own shard (see
    :func:`threadsafe_gen.shard`), so every item arrives **exactly once per epoch** and every
    epoch is complete. Plain ``fit(generator)`` instead replays its 2 peeked batches in later
    epochs (docs/failure-modes.md row 3d) and has no ``workers=`` at all in Keras 3.

    Speed: a body that does not split its work is auto-sharded, i.e. every worker runs the
    whole generator and keeps every N-th item, which is correct but only fast when producing an
    item is cheap compared with what follows. Split the cheap part yourself with
    :func:`threadsafe_gen.shard` (``for name in shard(files): yield load(name)``) so that each
    worker does only its own expensive work.

    Items of different shards interleave in arrival order. Threads suit generators that
    release the GIL (numpy, I/O); ``use_multiprocessing=True`` suits pure-Python CPU-bound work
    (items are pickled back). Keep a spawn/forkserver generator in a module that does not
    import TensorFlow, so workers start in a fraction of a second. ``workers=`` and
    ``use_multiprocessing=`` mean what they mean on a Keras ``PyDataset``, but the dataset runs
    those workers itself, as shards: Keras' own pool stays off (its ``self.workers`` and
    ``self.use_multiprocessing`` read 1 and False), so do not pass them to ``fit()`` either.

    Keras needs the number of batches before training. Pass ``batches=``; otherwise it is
    counted once by a dry run of all shards (one extra epoch of generation).

    On several hosts (Keras 3 with JAX multi-process and ``keras.distribution``, or
    torch.distributed; see :func:`threadsafe_gen.host_info`), each host's dataset serves only
    that host's part: the workers' identities name the host, detected in the training process
    when they start, so :func:`threadsafe_gen.shard` and auto-sharding split over hosts x
    local workers and every item is produced once per epoch across all hosts. ``batches=``
    is then this host's number of batches, which must be the same on every host. With
    ``keras.distribution.DataParallel``, pass ``auto_shard_dataset=False``: the data is
    already split.

    Worker threads start at the first batch of each epoch and stop at its end. Worker
    processes start once, at the first batch, and serve every epoch (each epoch re-creates the
    call inside them, with new per-epoch seeds); they wait between epochs and stop at
    :meth:`close`, at the end of a ``with`` block, or when the dataset is garbage-collected. So
    spawn/forkserver start-up (about a second, more if the generator's module imports
    TensorFlow) is paid once per fit, not per epoch as with Keras' own process pool. The call
    is sent to the processes once: changes to its arguments after the first batch are not seen.
    Between epochs they wait on a small file in a private temporary folder of their own, which
    is removed when they stop.

    Args:
        source: an unstarted ``@threadsafe_generator`` call, or a zero-argument callable
            returning an iterable (picklable for spawn/forkserver).
        workers: number of parallel shards.
        use_multiprocessing: run shards in processes instead of threads.
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"`` (processes only).
        batches: batches per epoch; None counts them once.
        truncate: take ``batches`` items per epoch and discard the rest (for infinite
            generators). Otherwise an epoch with more items raises ``ValueError``.
        seed: base seed of the per-worker, per-epoch seeds (see ``threadsafe_gen.worker_info``);
            worker processes also reseed ``random`` and numpy's global RNG from it.
        timeout: seconds to wait for one item before raising ``WorkerError`` (None: no limit;
            a dead worker process is detected at once either way).
        processes: deprecated alias of ``use_multiprocessing`` (warns).

    Raises:
        TypeError: *source* is a generator object or not callable.
        ValueError: an epoch yields fewer or more items than ``batches``.
        threadsafe_gen.errors.WorkerError: a worker raised, died or timed out.

    Example:
        >>> import numpy as np
        >>> from threadsafe_gen import threadsafe_generator
        >>> from threadsafe_gen.keras import GeneratorDataset
        >>> @threadsafe_generator
        ... def batches(n):
        ...     for i in range(n):
        ...         yield np.full((2, 1), i, "float32"), np.zeros((2, 1), "float32")
        >>> ds = GeneratorDataset(batches(6), workers=2, batches=6)
        >>> ds.on_epoch_begin()
        >>> sorted(int(ds[i][0][0, 0]) for i in range(len(ds)))
        [0, 1, 2, 3, 4, 5]
        >>> ds.on_epoch_end(); ds.close()
    """

    def __init__(
        self,
        source: Any,
        *,
        workers: int = 2,
        use_multiprocessing: bool = False,
        start_method: str | None = None,
        batches: int | None = None,
        truncate: bool = False,
        seed: int | None = None,
        timeout: float | None = None,
        processes: bool | None = None,
    ) -> None:
        in_processes = use_multiprocessing_arg(use_multiprocessing, processes, "GeneratorDataset")
        self._source = check_source(source, "GeneratorDataset")
        check_workers(workers, "GeneratorDataset")
        if batches is not None and (
            isinstance(batches, bool) or not isinstance(batches, int) or batches < 1
        ):
            msg = f"GeneratorDataset() expected batches to be an int >= 1 or None, got batches={short_repr(batches)}."
            raise ValueError(msg)
        if truncate and batches is None:
            msg = "GeneratorDataset(truncate=True) needs batches=N: how many items make one epoch."
            raise ValueError(msg)
        # Keras' own workers stay off: our shards are the parallelism (see the class docstring).
        super().__init__(workers=1, use_multiprocessing=False)  # type: ignore[call-arg]
        self._shards = workers
        self._processes = in_processes
        self._start_method = start_method
        self._batches = batches
        self._truncate = truncate
        self._seed = secrets.randbits(63) if seed is None else host_seed(seed, host_info())
        self._timeout = timeout
        self._owner_pid = os.getpid()
        self._lock = Lock()
        self._epoch = 0
        self._stream: Any = None
        self._drawn = 0  # items taken from this epoch's stream
        self._peeked: dict[int, Any] = {}
        self._in_epoch = False
        # See NOTE [ One set of worker processes for the whole fit ].
        self._persistent = in_processes and not truncate

    # -- Keras protocol -------------------------------------------------------------------

    def __len__(self) -> int:
        if self._batches is None:
            self._batches = self._count()
        return self._batches

    def __getitem__(self, index: int) -> Any:
        if _guard._pid != self._owner_pid:
            msg = (
                "GeneratorDataset was copied into a Keras worker process; it runs its own "
                "workers and must be consumed in the training process. Do not hand it to "
                "another process pool (such as tf_keras fit(use_multiprocessing=True)); pass "
                "use_multiprocessing=True to GeneratorDataset itself instead."
            )
            raise RuntimeError(msg)
        n = len(self)
        if not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            msg = f"GeneratorDataset index out of range: expected 0 <= index < {n}, got {short_repr(index)}."
            raise IndexError(msg)
        with self._lock:
            index = int(index)
            if self._in_epoch:
                batch = self._peeked.pop(index, MISSING)
                return self._draw() if batch is MISSING else batch
            # Outside an epoch (Keras' spec peek): remember the batch for this index.
            if index not in self._peeked:
                self._peeked[index] = self._draw()
            return self._peeked[index]

    def on_epoch_begin(self) -> None:
        """Called by Keras when an epoch starts."""
        self._in_epoch = True

    def on_epoch_end(self) -> None:
        """Called by Keras when an epoch ends: checks the run was complete and closes it.

        Outside Keras, call ``on_epoch_begin()`` and ``on_epoch_end()`` around each epoch.
        """
        if not self._in_epoch and self._drawn < len(self):
            # Keras 3 calls on_epoch_end() once right after its spec peek, before the first
            # on_epoch_begin() (EpochIterator.reset): keep the peeked batches for epoch 0.
            return
        self._in_epoch = False
        with self._lock:
            drawn, epoch = self._drawn, self._epoch
            self._drawn = 0
            self._peeked.clear()
            self._epoch += 1
            if self._stream is None:
                return
            ok = False
            try:
                if (
                    not self._truncate
                    and drawn == self._batches
                    and self._next_of_epoch() is not MISSING
                ):
                    msg = (
                        f"GeneratorDataset: epoch {epoch} of {describe(self._source)} yielded "
                        f"more than batches={self._batches} items; Keras trained on "
                        f"{self._batches} and the rest would be dropped silently. Pass the "
                        "right batches=, leave it unset to count it, or pass truncate=True "
                        "for an infinite generator."
                    )
                    raise ValueError(msg)
                ok = True
            finally:
                if ok and self._persistent:
                    # Drops the rest of the epoch if Keras asked for fewer batches
                    # (steps_per_epoch), and lets the workers start the next epoch now.
                    self._stream.advance()
                else:
                    self._close_locked()

    # -- our own -------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        """The epoch the next batches belong to (0-based)."""
        return self._epoch

    def close(self) -> None:
        """Stop the workers. Process workers live for the whole fit: close the dataset (or use
        it as a context manager) when training is over; garbage collection also closes it."""
        with self._lock:
            self._close_locked()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _close_locked(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def _open(self, epoch: int) -> Any:
        return parallel_iter(
            self._source,
            workers=self._shards,
            use_multiprocessing=self._processes,
            start_method=self._start_method,
            epoch=epoch,
            seed=self._seed,
            timeout=self._timeout,
        )

    def _count(self) -> int:
        with self._open(self._epoch) as stream:
            n = sum(1 for _ in stream)
        if n == 0:
            msg = f"GeneratorDataset: {describe(self._source)} yielded no items; there is nothing to train on."
            raise ValueError(msg)
        return n

    def _next_of_epoch(self) -> Any:
        """The next item of the current epoch, or MISSING at its end (lock held)."""
        if self._persistent:
            return self._stream.next()
        return next(self._stream, MISSING)

    def _draw(self) -> Any:
        # Called with self._lock held.
        if self._stream is None:
            if self._persistent:
                self._stream = PersistentShards(
                    self._source,
                    workers=self._shards,
                    start_method=self._start_method,
                    seed=self._seed,
                    timeout=self._timeout,
                    epoch=self._epoch,
                )
            else:
                self._stream = self._open(self._epoch)
        if self._truncate and self._drawn >= len(self):
            msg = f"GeneratorDataset: more than batches={self._batches} items requested in epoch {self._epoch}."
            raise IndexError(msg)
        item = self._next_of_epoch()
        if item is MISSING:
            msg = (
                f"GeneratorDataset: epoch {self._epoch} of {describe(self._source)} yielded only "
                f"{self._drawn} items, but batches={self._batches}. Every epoch must yield the "
                "same number of items: pass the right batches= (or leave it unset to count it)."
            )
            raise ValueError(msg)
        self._drawn += 1
        return as_structure(item)

    def __reduce__(self) -> Any:
        msg = (
            "GeneratorDataset cannot be pickled: it owns the running workers of the current "
            "epoch. Keras pickles a dataset only to send it to its own spawn or forkserver "
            "worker processes; GeneratorDataset runs its own instead: pass "
            "use_multiprocessing=True to GeneratorDataset itself, and no workers= or "
            "use_multiprocessing= to fit()."
        )
        raise PicklingRefusedError(msg)

    def __del__(self) -> None:
        try:
            if getattr(self, "_lock", None) is not None:
                self._close_locked()
        except Exception:  # at garbage collection there is no caller to report to
            pass

    def __repr__(self) -> str:
        kind = f"processes ({self._start_method or 'default'})" if self._processes else "threads"
        return (
            f"GeneratorDataset({describe(self._source)}, workers={self._shards} {kind}, "
            f"batches={self._batches}, epoch={self._epoch})"
        )


_generator_dataset_class: type | None = None
_class_lock = Lock()


def generator_dataset_class() -> type:
    """``GeneratorDataset``: built (and Keras imported) on first use, then the same class."""
    global _generator_dataset_class
    with _class_lock:
        if _generator_dataset_class is None:
            import keras

            cls = type(
                "GeneratorDataset",
                (GeneratorDatasetImpl, keras.utils.PyDataset),
                # Named as users import it: threadsafe_gen.keras.GeneratorDataset.
                {"__module__": "threadsafe_gen.keras", "__doc__": GeneratorDatasetImpl.__doc__},
            )
            _generator_dataset_class = cls
        return _generator_dataset_class
