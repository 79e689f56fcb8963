"""The ``tf.data`` path: :func:`to_tf_dataset`, a generator's shards as a ``tf.data.Dataset``.

Public through :mod:`threadsafe_gen.keras`. TensorFlow is imported when a dataset is built,
never when this module is imported.

On several hosts (see NOTE [ One splitter per host ]) the dataset serves only its host's part
and switches tf.data's own auto-sharding off.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterator
from typing import Any

from .._hosts import HostInfo, host_info, hosts_from_input_context, use_hosts
from .._parallel import parallel_iter, step_shard
from .._sharding import WorkerInfo, derive_seed
from ._common import (
    MISSING,
    EpochCounter,
    as_structure,
    check_source,
    check_workers,
    infer_signature,
    use_multiprocessing_arg,
)
from ._persistent import PersistentShards, SharedShards

__all__ = ["adapter_hosts", "host_seed", "process_pass", "serve_host_part", "to_tf_dataset"]

# NOTE [ One splitter per host ]
# Under a tf.distribute multi-worker strategy, tf.data shards every dataset it distributes by
# itself (AutoShardPolicy.AUTO): a from_generator pipeline falls back to DATA sharding, so each
# host runs the WHOLE generator and drops all but its 1/N (measured: 64 of 64 items produced
# per host with 2 hosts, 32 kept; docs/how-to/several-machines.md). Our datasets split by host
# themselves (the workers' WorkerInfo names the host: shard() and auto-sharding split over
# hosts x local workers), so tf.data must not split them again: that would drop half of each
# host's half. So a dataset built for several hosts gets AutoShardPolicy.OFF. On one host
# (nothing detected) the policy is left alone: if a cluster we cannot see is running, tf.data's
# own sharding still keeps every item once, only slower.


def adapter_hosts(input_context: Any, where: str) -> HostInfo:
    """The host an adapter serves: its ``input_context``'s pipeline, else :func:`host_info`."""
    if input_context is None:
        return host_info()
    try:
        return hosts_from_input_context(input_context)
    except TypeError as exc:
        msg = f"{where}() got a bad input_context: {exc}"
        raise TypeError(msg) from None


def host_seed(seed: int, hosts: HostInfo) -> int:
    """The base seed of this host's workers: *seed* itself on one host, else mixed with the
    host, so that hosts given the same ``seed=`` do not draw the same per-worker streams."""
    return seed if hosts.count == 1 else derive_seed(seed, hosts.count, hosts.index)


def serve_host_part(ds: Any, hosts: HostInfo) -> Any:
    """*ds* with tf.data's auto-sharding off when it serves one of several hosts.

    See NOTE [ One splitter per host ].
    """
    if hosts.count == 1:
        return ds
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options)


def to_tf_dataset(
    source: Any,
    *,
    workers: int = 2,
    use_multiprocessing: bool = False,
    start_method: str | None = None,
    output_signature: Any = None,
    batches: int | None = None,
    deterministic: bool = True,
    seed: int | None = None,
    timeout: float | None = None,
    persistent_workers: bool = False,
    processes: bool | None = None,
    input_context: Any = None,
) -> Any:
    """Run a generator's shards in parallel as a ``tf.data.Dataset``, every item once per pass.

    Use it to feed ``tf.data`` pipelines, Keras 3 or tf_keras from a generator with parallel
    workers. With threads (the default) it is ``interleave`` over ``workers`` per-shard
    ``from_generator`` datasets (``num_parallel_calls=workers``), which tf.data really runs in
    parallel (docs/failure-modes.md row 6.2); ``deterministic=True`` (the default) fixes the order:
    round-robin over shards. With ``use_multiprocessing=True`` the shards run in worker
    processes (for pure-Python CPU-bound generators) and arrive in arrival order. Every
    iteration of the dataset (every Keras epoch) re-creates all shards with a new epoch number,
    so each pass yields every item exactly once and per-worker seeds change per epoch. For
    speed, split the cheap part of the generator with :func:`threadsafe_gen.shard` (see
    :class:`GeneratorDataset`).

    On several hosts (``tf.distribute.MultiWorkerMirroredStrategy``, torch.distributed, JAX;
    see :func:`threadsafe_gen.host_info`), each host's dataset serves only that host's part:
    the shards are split over hosts x local workers, so every item is produced once per pass
    across all hosts and every local worker of every host works. The dataset then has
    tf.data's auto-sharding switched off (``AutoShardPolicy.OFF``), since it is already split;
    batch it with the per-host batch size (global batch // number of hosts). Inside
    ``strategy.distribute_datasets_from_function(fn)``, pass fn's context as
    ``input_context=``: its input pipeline is the host. With tf_keras, such a distributed
    dataset needs ``.repeat()`` and ``fit(steps_per_epoch=...)``.

    Args:
        source: an unstarted ``@threadsafe_generator`` call or a zero-argument callable
            returning an iterable.
        workers: number of shards.
        use_multiprocessing: run shards in processes instead of tf.data threads.
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"`` (processes only).
        output_signature: the ``tf.TensorSpec`` structure of one item; None infers it from the
            first item of one unsharded run (batch dimension left as None).
        batches: items per pass, asserted with ``tf.data.experimental.assert_cardinality`` so
            that Keras knows the epoch length (no "ran out of data" warning); None leaves the
            cardinality unknown.
        deterministic: fixed interleave order (threads only).
        seed: base seed of the per-worker, per-epoch seeds.
        timeout: per-item limit in seconds for worker processes.
        persistent_workers: processes only: start the worker processes once and keep them
            for every pass (as :class:`GeneratorDataset` does), instead of once per pass.
            tf.data keeps a dataset's generators referenced, so such workers usually live
            until the program exits; hence off by default.
        processes: deprecated alias of ``use_multiprocessing`` (warns).
        input_context: a ``tf.distribute.InputContext``: serve its input pipeline's part
            (``input_pipeline_id`` of ``num_input_pipelines``) instead of the detected host's.

    Returns:
        A ``tf.data.Dataset``.

    Raises:
        TypeError: *source* is a generator object or not callable, or *input_context* is
            not an ``InputContext``.

    Example:
        >>> import numpy as np
        >>> from threadsafe_gen import threadsafe_generator
        >>> from threadsafe_gen.keras import to_tf_dataset
        >>> @threadsafe_generator
        ... def rows(n):
        ...     for i in range(n):
        ...         yield np.array([i], "int64")
        >>> ds = to_tf_dataset(rows(6), workers=2, batches=6)
        >>> sorted(int(x[0]) for x in ds.as_numpy_iterator())
        [0, 1, 2, 3, 4, 5]
    """
    import tensorflow as tf

    in_processes = use_multiprocessing_arg(use_multiprocessing, processes, "to_tf_dataset")
    source = check_source(source, "to_tf_dataset")
    check_workers(workers, "to_tf_dataset")
    hosts = adapter_hosts(input_context, "to_tf_dataset")
    if output_signature is None:
        with use_hosts(hosts):
            output_signature = infer_signature(source)
    base_seed = secrets.randbits(63) if seed is None else host_seed(seed, hosts)
    if in_processes and persistent_workers:
        holder = SharedShards(
            functools.partial(
                PersistentShards,
                source,
                workers=workers,
                start_method=start_method,
                seed=base_seed,
                timeout=timeout,
            )
        )
        ds = tf.data.Dataset.from_generator(
            functools.partial(_persistent_pass, holder, EpochCounter(), hosts),
            output_signature=output_signature,
        )
    elif in_processes:
        run = functools.partial(
            process_pass,
            source,
            EpochCounter(),
            hosts,
            workers=workers,
            start_method=start_method,
            seed=base_seed,
            timeout=timeout,
        )
        ds = tf.data.Dataset.from_generator(run, output_signature=output_signature)
    else:
        ds = _thread_interleave(source, workers, base_seed, output_signature, deterministic, hosts)
    if batches is not None:
        ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    return serve_host_part(ds, hosts)


def _persistent_pass(holder: SharedShards, epochs: EpochCounter, hosts: HostInfo) -> Iterator[Any]:
    """One pass of a persistent-workers dataset: the next epoch of the kept processes."""
    epoch = epochs.take()
    while True:
        # The workers' identities are made when the first pass starts them: with this host.
        with use_hosts(hosts):
            item = holder.next(epoch)
        if item is MISSING:
            return
        yield as_structure(item)


def process_pass(
    source: Any,
    epochs: EpochCounter,
    hosts: HostInfo,
    *,
    workers: int,
    start_method: str | None,
    seed: int,
    timeout: float | None,
) -> Iterator[Any]:
    """One pass of *source*'s shards in worker processes started for it and stopped at its end.

    Also runs a Sequence's epochs for :mod:`._legacy` (*source* then shards its indices).
    """
    with use_hosts(hosts):  # the workers' identities name this host
        stream = parallel_iter(
            source,
            workers=workers,
            use_multiprocessing=True,
            start_method=start_method,
            epoch=epochs.take(),
            seed=seed,
            timeout=timeout,
        )
    try:
        for item in stream:
            yield as_structure(item)
    finally:
        stream.close()


def _thread_interleave(
    source: Any,
    workers: int,
    base_seed: int,
    signature: Any,
    deterministic: bool,
    hosts: HostInfo,
) -> Any:
    """tf.data's own threads: an ``interleave`` of one ``from_generator`` per shard."""
    import tensorflow as tf

    epochs = EpochCounter()
    shard_items = functools.partial(_shard_items, source, workers, base_seed, hosts)

    def plan() -> Iterator[tuple[int, int]]:
        epoch = epochs.take()
        for worker in range(workers):
            yield epoch, worker

    index_spec = tf.TensorSpec(shape=(), dtype=tf.int64)
    ds = tf.data.Dataset.from_generator(plan, output_signature=(index_spec, index_spec))
    return ds.interleave(
        lambda epoch, worker: tf.data.Dataset.from_generator(
            shard_items, args=(epoch, worker), output_signature=signature
        ),
        cycle_length=workers,
        block_length=1,
        num_parallel_calls=workers,
        deterministic=deterministic,
    )


def _shard_items(
    source: Any, workers: int, base_seed: int, hosts: HostInfo, epoch: Any, worker: Any
) -> Iterator[Any]:
    """One shard of *source*, run by tf.data (possibly on a different thread per item)."""
    e, w = int(epoch), int(worker)
    info = WorkerInfo(
        id=w,
        num_workers=workers,
        seed=derive_seed(base_seed, e, w),
        epoch=e,
        kind="thread",
        host=hosts.index,
        num_hosts=hosts.count,
    )
    # tf.data may resume this generator on another thread: step_shard sets the thread-local
    # worker info around each step, never across a yield.
    for item in step_shard(source, info):
        yield as_structure(item)
