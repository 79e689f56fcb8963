"""The tf_keras path: :func:`legacy_fit_input`, instead of tf_keras' own enqueuers.

Public through :mod:`threadsafe_gen.keras`. TensorFlow is imported when a dataset is built,
never when this module is imported.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._hosts import HostInfo
from .._iterators import GeneratorCall
from .._sharding import shard
from .._text import short_repr
from ._common import (
    EpochCounter,
    as_structure,
    check_source,
    check_workers,
    infer_signature,
)
from ._tf_data import adapter_hosts, host_seed, process_pass, serve_host_part, to_tf_dataset

__all__ = ["legacy_fit_input"]


def _sequence_shard(sequence: Any) -> Iterator[Any]:
    """The batches of *sequence* that belong to the current worker (self-sharded).

    The worker's info names its host too, so on several hosts this is its share of the
    host's part (NOTE [ Hosts x local workers ] in ``_sharding``).
    """
    for index in shard(range(len(sequence))):
        yield as_structure(sequence[index])


class _SequenceEpochs(EpochCounter):
    """Epoch numbers of a Sequence's passes, calling its ``on_epoch_end`` between them.

    tf_keras has no hook for a tf.data input, so ``on_epoch_end`` is called once per finished
    epoch from the input pipeline, before the next epoch's first batch.
    """

    __slots__ = ("_sequence",)

    def __init__(self, sequence: Any) -> None:
        super().__init__()
        self._sequence = sequence

    def take(self) -> int:
        epoch = super().take()
        if epoch > 0:
            on_epoch_end = getattr(self._sequence, "on_epoch_end", None)
            if on_epoch_end is not None:
                on_epoch_end()
        return epoch


def _sequence_to_tf_dataset(
    sequence: Any,
    *,
    workers: int,
    use_multiprocessing: bool,
    start_method: str | None,
    output_signature: Any,
    deterministic: bool,
    seed: int | None,
    timeout: float | None,
    hosts: HostInfo,
) -> Any:
    import tensorflow as tf

    n = len(sequence)
    if n < 1:
        msg = (
            f"legacy_fit_input() got an empty sequence {short_repr(sequence)} (len 0): nothing "
            "to train on. Check the data it is built from, or its __len__."
        )
        raise ValueError(msg)
    if output_signature is None:
        output_signature = infer_signature(lambda: (sequence[0],))
    epochs = _SequenceEpochs(sequence)
    if use_multiprocessing:
        run = functools.partial(
            process_pass,
            functools.partial(_sequence_shard, sequence),
            epochs,
            hosts,
            workers=workers,
            start_method=start_method,
            seed=secrets.randbits(63) if seed is None else host_seed(seed, hosts),
            timeout=timeout,
        )
        ds = tf.data.Dataset.from_generator(run, output_signature=output_signature)
    else:
        ds = _sequence_thread_map(sequence, epochs, workers, output_signature, deterministic, hosts)
    # This host's batches: indices host, host + hosts, ... (NOTE [ One splitter per host ]).
    part = len(range(hosts.index, n, hosts.count))
    if part == 0:
        msg = (
            f"legacy_fit_input() got a sequence of {n} batches for {hosts.count} hosts (from "
            f"{hosts.source}), so host {hosts.index} has no batch to train on, and the hosts "
            "would run different numbers of steps. Make batches smaller, or use fewer hosts."
        )
        raise ValueError(msg)
    return serve_host_part(ds.apply(tf.data.experimental.assert_cardinality(part)), hosts)


def _sequence_thread_map(
    sequence: Any,
    epochs: _SequenceEpochs,
    workers: int,
    output_signature: Any,
    deterministic: bool,
    hosts: HostInfo,
) -> Any:
    """``range(len).map(__getitem__)`` on *workers* tf.data threads (this host's indices)."""
    import tensorflow as tf

    n = len(sequence)

    def plan() -> Iterator[int]:
        epochs.take()
        yield from range(hosts.index, n, hosts.count)

    flat_specs = tf.nest.flatten(output_signature)

    def fetch(index: Any) -> list[Any]:
        batch = as_structure(sequence[int(index)])
        return [
            np.asarray(part, dtype=spec.dtype.as_numpy_dtype)
            for part, spec in zip(tf.nest.flatten(batch), flat_specs, strict=True)
        ]

    def load(index: Any) -> Any:
        parts = tf.numpy_function(fetch, [index], [spec.dtype for spec in flat_specs])
        for part, spec in zip(parts, flat_specs, strict=True):
            part.set_shape(spec.shape)
        return tf.nest.pack_sequence_as(output_signature, parts)

    ds = tf.data.Dataset.from_generator(
        plan, output_signature=tf.TensorSpec(shape=(), dtype=tf.int64)
    )
    return ds.map(load, num_parallel_calls=workers, deterministic=deterministic)


def legacy_fit_input(
    x: Any,
    *,
    workers: int = 1,
    use_multiprocessing: bool = False,
    start_method: str | None = None,
    output_signature: Any = None,
    batches: int | None = None,
    deterministic: bool = True,
    seed: int | None = None,
    timeout: float | None = None,
    persistent_workers: bool = False,
    input_context: Any = None,
) -> Any:
    """Convert a generator or Sequence into a ``tf.data.Dataset`` for tf_keras ``fit()``.

    Use it instead of tf_keras' ``fit(x, workers=N, use_multiprocessing=...)``: tf_keras' own
    enqueuers copy a generator into every worker process (each item up to N times, silently,
    docs/failure-modes.md row 4.1/5.2), hang under spawn (5.3), call ``on_epoch_end`` twice per epoch (4.6)
    and stall 5 s at every epoch end (4.5). The dataset returned here runs the same work in
    parallel without any of that; pass it to ``fit()`` *without* ``workers`` /
    ``use_multiprocessing``. It works with Keras 3 too. Measured on 2 cores, 3 epochs of a
    64-sample Sequence with ``workers=2``: 17.2 s through tf_keras' enqueuer (threads or fork),
    1.0-1.5 s through this dataset.

    * A ``@threadsafe_generator`` call, generator function or zero-argument callable becomes
      :func:`to_tf_dataset` (``workers`` shards, every item once per epoch).
    * A Sequence (``tf_keras.utils.Sequence``, ``keras.utils.PyDataset`` or anything with
      ``__len__`` and ``__getitem__``) becomes ``range(len).map(__getitem__)`` on ``workers``
      tf.data threads (``use_multiprocessing=False``), or ``workers`` processes that each
      compute every ``workers``-th index (``use_multiprocessing=True``; the Sequence is copied
      to them each epoch, and they reseed ``random``/numpy per worker and epoch). Batches come
      in index order with threads and ``deterministic=True``. ``on_epoch_end()`` is called
      once between epochs, when the next epoch's first batch is requested.

    On several hosts (``tf.distribute.MultiWorkerMirroredStrategy``; see
    :func:`threadsafe_gen.host_info`) the dataset serves only this host's part (a Sequence's
    indices ``host, host + hosts, ...``; a generator as in :func:`to_tf_dataset`) and has
    tf.data's auto-sharding switched off. tf_keras then needs ``fit(steps_per_epoch=...)``
    (and the dataset ``.repeat()``): every host must run the same number of steps.

    Args:
        x: the generator source or the Sequence.
        workers: number of parallel threads or processes.
        use_multiprocessing: processes instead of threads.
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"`` (processes only).
        output_signature: ``tf.TensorSpec`` structure of one batch; None infers it from the
            first batch.
        batches: generator sources only: batches per epoch (see :func:`to_tf_dataset`).
        deterministic: fixed order with threads.
        seed: base seed of the per-worker, per-epoch seeds.
        timeout: per-batch limit in seconds for worker processes.
        persistent_workers: generator sources with processes only: keep the worker processes
            for every epoch (see :func:`to_tf_dataset`). A Sequence is always sent afresh each
            epoch, so that its ``on_epoch_end`` (e.g. a reshuffle) reaches the workers.
        input_context: a ``tf.distribute.InputContext``: serve its input pipeline's part
            instead of the detected host's (for ``distribute_datasets_from_function``).

    Returns:
        A ``tf.data.Dataset`` yielding the same batches.

    Raises:
        TypeError: *x* is a generator object, an iterator, or neither a generator source nor
            a Sequence; *input_context* is not an ``InputContext``.

    Example:
        >>> import numpy as np
        >>> from threadsafe_gen.keras import legacy_fit_input
        >>> class Rows:
        ...     def __len__(self):
        ...         return 3
        ...     def __getitem__(self, i):
        ...         return np.array([[i]], "float32"), np.zeros((1, 1), "float32")
        >>> ds = legacy_fit_input(Rows(), workers=2)
        >>> [int(xb[0, 0]) for xb, yb in ds.as_numpy_iterator()]
        [0, 1, 2]
    """
    check_workers(workers, "legacy_fit_input")
    hosts = adapter_hosts(input_context, "legacy_fit_input")
    is_sequence = (
        not isinstance(x, GeneratorCall)
        and hasattr(type(x), "__getitem__")
        and hasattr(type(x), "__len__")
        and not isinstance(x, (str, bytes))
    )
    if is_sequence:
        if batches is not None and batches != len(x):
            msg = f"legacy_fit_input() got batches={batches!r} for a Sequence of len {len(x)}; leave batches unset."
            raise ValueError(msg)
        return _sequence_to_tf_dataset(
            x,
            workers=workers,
            use_multiprocessing=use_multiprocessing,
            start_method=start_method,
            output_signature=output_signature,
            deterministic=deterministic,
            seed=seed,
            timeout=timeout,
            hosts=hosts,
        )
    check_source(x, "legacy_fit_input")
    return to_tf_dataset(
        x,
        workers=workers,
        use_multiprocessing=use_multiprocessing,
        start_method=start_method,
        output_signature=output_signature,
        batches=batches,
        deterministic=deterministic,
        seed=seed,
        timeout=timeout,
        persistent_workers=persistent_workers,
        input_context=input_context,
    )
