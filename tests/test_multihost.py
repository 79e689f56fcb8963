"""Real multi-process runs: two hosts on 127.0.0.1, each a process of its own (issue 13 item 4).

For each engine, two processes train (or iterate) for 2 epochs on a loader built with
threadsafe_gen, and the test checks, from what each process reports:

* every id is consumed exactly once per epoch across the hosts;
* each host produces only its share (ids ``host, host + 2, ...``), each once per epoch;
* each host's local workers all produce.

Engines: ``tf.distribute.MultiWorkerMirroredStrategy`` with tf_keras (``fit`` on
``to_tf_dataset`` and on ``distribute_datasets_from_function`` with an ``InputContext``);
Keras 3 under that strategy (``fit`` is unsupported: the test pins the error, and trains with a
custom loop instead); ``torch.distributed`` (gloo) over a DataLoader with 2 fork workers; JAX
``jax.distributed`` with Keras 3's ``keras.distribution.DataParallel`` (only where jax is
installed: it is not in the project's test environment, see docs/how-to/several-machines.md).

Safety: addresses are 127.0.0.1 only, ports are picked free by the OS, every process runs in a
session of its own under a hard timeout and is killed with its whole group (DataLoader workers
included) when the test ends, passes or fails. Output goes to files, not pipes, so a chatty
process can never block its peer in a collective. This file is also the processes' program:
``python test_multihost.py MODE INDEX PORTS`` runs one host.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import threadsafe_gen as tsg
from threadsafe_gen._sharding import WorkerInfo, current_worker_info, use_worker_info

ROOT = Path(__file__).resolve().parents[1]
N = 64  # ids per epoch, across all hosts
GLOBAL_BATCH = 8
EPOCHS = 2
HOSTS = 2
TIMEOUT_S = 240.0  # per pair of processes; they take 6-25 s on 2 busy cores

#: (epoch, id, host, local worker) of every item a body produced in this process.
PRODUCED: list[tuple[int, int, int, int]] = []

pytestmark = [pytest.mark.slow]


# --- the parent: run two hosts ---------------------------------------------------------------


def _free_ports(k: int) -> list[int]:
    socks = []
    for _ in range(k):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    # The session may still hold the host's own children (DataLoader workers): end them too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_hosts(mode: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Run ``mode`` as hosts 0 and 1; their RESULT dicts, by host, or the test fails."""
    ports = ",".join(map(str, _free_ports(HOSTS)))
    child_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CONFIG", "THREADSAFE_GEN_HOST_INDEX", "THREADSAFE_GEN_HOST_COUNT")
    }
    child_env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), child_env.get("PYTHONPATH", "")]),
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="",
        JAX_PLATFORMS="cpu",
        PYTHONUNBUFFERED="1",
        **(env or {}),
    )
    with tempfile.TemporaryDirectory(prefix="tsg_multihost_") as tmp:
        procs, logs = [], []
        try:
            for index in range(HOSTS):
                out = open(Path(tmp) / f"host{index}.out", "w+b")  # noqa: SIM115
                logs.append(out)
                procs.append(
                    subprocess.Popen(
                        [sys.executable, __file__, mode, str(index), ports],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=child_env,
                        cwd=tmp,
                        start_new_session=True,
                    )
                )
            deadline = time.monotonic() + TIMEOUT_S
            for proc in procs:
                try:
                    proc.wait(max(1.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    break
        finally:
            for proc in procs:
                _kill_group(proc)
            texts = []
            for log in logs:
                log.seek(0)
                texts.append(log.read().decode("utf-8", "replace"))
                log.close()
    results = []
    for index, text in enumerate(texts):
        lines = [ln for ln in text.splitlines() if ln.startswith("RESULT ")]
        if not lines:
            tail = "\n".join(text.splitlines()[-25:])
            pytest.fail(f"{mode}: host {index} reported nothing (timeout {TIMEOUT_S} s):\n{tail}")
        results.append(json.loads(lines[-1][len("RESULT ") :]))
    return results


def check_exactly_once(results: list[dict[str, Any]], run: str, unit: int = 1) -> None:
    """The three promises of the module docstring, for one training run of each host.

    A host's share is every other *unit* of ids (``unit`` > 1: whole batches are split).
    """
    for epoch in range(EPOCHS):
        consumed = sorted(i for r in results for i in r[run]["consumed"][epoch])
        assert consumed == list(range(N)), f"{run}: epoch {epoch} consumed across hosts"
    for r in results:
        host = r["host"][0]
        for epoch in range(EPOCHS):
            rows = [row for row in r[run]["produced"] if row[0] == epoch]
            share = [i for i in range(N) if (i // unit) % HOSTS == host]
            assert sorted(row[1] for row in rows) == share, (
                f"{run}: host {host} epoch {epoch} produced"
            )
            assert {row[2] for row in rows} == {host}
            assert {row[3] for row in rows} == {0, 1}, f"{run}: host {host} local workers"


def _needs(module: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: {why}")


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.keras
def test_multi_worker_mirrored_strategy_tf_keras() -> None:
    """tf_keras, 2 MultiWorkerMirroredStrategy workers: to_tf_dataset(call, workers=2) reads
    TF_CONFIG, serves each host its half with both local workers busy, and switches tf.data's
    auto-sharding off; the same through distribute_datasets_from_function(InputContext)."""
    _needs("tf_keras", "tf_keras trains under MultiWorkerMirroredStrategy")
    results = run_hosts("tf_keras")
    assert [r["host"] for r in results] == [[0, 2, "TF_CONFIG"], [1, 2, "TF_CONFIG"]]
    assert all(r["auto_shard_policy"] == "OFF" for r in results)
    check_exactly_once(results, "fit")
    check_exactly_once(results, "input_context")
    assert all(r["contexts"] == [[r["host"][0], 2, 4]] for r in results)


@pytest.mark.keras
def test_multi_worker_mirrored_strategy_keras3_fit_is_unsupported() -> None:
    """Keras 3 does not support MultiWorkerMirroredStrategy (keras-team/keras#20585): fit()
    fails with the PerReplica ValueError pinned here. A custom training loop with strategy.run
    over distribute_datasets_from_function(to_tf_dataset(..., input_context=ctx)) trains, each
    id once per epoch across hosts, and both hosts end with the same weights."""
    _needs("keras", "Keras 3 is the subject of this test")
    results = run_hosts("keras3", {"KERAS_BACKEND": "tensorflow"})
    for r in results:
        assert r["fit_error"].startswith("ValueError: Attempt to convert a value (PerReplica:")
        assert (
            "with an unsupported type (<class 'tensorflow.python.distribute.values."
            in (r["fit_error"])
        )
    check_exactly_once(results, "custom_loop")
    assert results[0]["weights"] == results[1]["weights"]


def test_torch_distributed_gloo_dataloader() -> None:
    """torch.distributed (gloo), 2 ranks, each a DataLoader with 2 fork workers over an
    IterableDataset that iterates tsg.shard(range(N)): the host is captured in the training
    process (a spawned worker would not see the process group) and the workers split it."""
    _needs("torch", "install torch==2.13.0 (the CPU wheel) to run the torch.distributed test")
    results = run_hosts("torch")
    assert [r["host"] for r in results] == [
        [0, 2, "torch.distributed"],
        [1, 2, "torch.distributed"],
    ]
    check_exactly_once(results, "dataloader")


def test_jax_distributed_keras3_data_parallel() -> None:
    """JAX, 2 processes (jax.distributed on 127.0.0.1), Keras 3's DataParallel with
    auto_shard_dataset=False, fed by GeneratorDataset(workers=2): host from jax.distributed,
    each id once per epoch across hosts, identical losses and weights on both hosts."""
    _needs("jax", "jax is not a test dependency (it conflicts with grain in the project venv)")
    results = run_hosts("jax", {"KERAS_BACKEND": "jax"})
    assert [r["host"] for r in results] == [[0, 2, "jax.distributed"], [1, 2, "jax.distributed"]]
    check_exactly_once(results, "fit", unit=GLOBAL_BATCH // HOSTS)
    assert results[0]["loss"] == results[1]["loss"]
    assert results[0]["weights"] == results[1]["weights"]


# --- the hosts: what each process runs ---------------------------------------------------------


def _record(index: int) -> None:
    # current_worker_info(), not worker_info(): instrumentation must not count as the body
    # asking who it is (NOTE [ Auto-sharding rule ]); the body already called shard().
    info = current_worker_info()
    if info is not None:  # None: to_tf_dataset's peek at the first item for the signature
        PRODUCED.append((info.epoch, index, info.host, info.id))


@tsg.threadsafe_generator
def ids(n: int) -> Iterator[tuple[Any, Any]]:
    """Items (x=[id], y=[0]); the body splits its ids with shard() (hosts x local workers)."""
    import numpy as np

    for i in tsg.shard(range(n)):
        _record(i)
        yield np.array([i], np.float32), np.array([0], np.float32)


@tsg.threadsafe_generator
def id_batches(n: int, batch: int) -> Iterator[tuple[Any, Any]]:
    """Batches of *batch* consecutive ids; whole batches are split with shard()."""
    import numpy as np

    for b in tsg.shard(range(n // batch)):
        for i in range(b * batch, (b + 1) * batch):
            _record(i)
        x = np.arange(b * batch, (b + 1) * batch, dtype="float32")[:, None]
        yield x, np.zeros_like(x)


def _tf_config(index: int, ports: list[int]) -> str:
    workers = [f"127.0.0.1:{p}" for p in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def _epochs(values: list[int], marks: list[int]) -> list[list[int]]:
    """*values* cut at the epoch-end *marks* (lengths of the list at each epoch's end)."""
    out, start = [], 0
    for end in marks:
        out.append(sorted(values[start:end]))
        start = end
    return out


def _tf_keras_host(index: int, ports: list[int]) -> dict[str, Any]:
    os.environ["TF_CONFIG"] = _tf_config(index, ports)
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    import tf_keras

    from threadsafe_gen.keras import to_tf_dataset

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    host = tsg.host_info()
    consumed: list[int] = []
    marks: list[int] = []

    def record(x: Any) -> None:
        consumed.extend(int(v) for v in x.numpy().ravel())

    class Model(tf_keras.Model):  # type: ignore[misc]
        def train_step(self, data: Any) -> Any:
            tf.py_function(record, [data[0]], [])
            return super().train_step(data)

    class Mark(tf_keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            marks.append(len(consumed))

    with strategy.scope():
        inp = tf_keras.Input((1,))
        model = Model(inp, tf_keras.layers.Dense(1)(inp))
        model.compile(tf_keras.optimizers.SGD(1e-4), "mse")
    out: dict[str, Any] = {"host": [host.index, host.count, host.source]}

    # fit() on our dataset: the per-host batch is the global batch // hosts.
    ds = to_tf_dataset(ids(N), workers=2).batch(GLOBAL_BATCH // host.count)
    policy = ds.options().experimental_distribute.auto_shard_policy
    out["auto_shard_policy"] = policy.name
    model.fit(ds, epochs=EPOCHS, verbose=0, callbacks=[Mark()])
    out["fit"] = {"produced": list(PRODUCED), "consumed": _epochs(consumed, marks)}

    # distribute_datasets_from_function: the InputContext names the host. tf_keras keeps one
    # iterator for the whole fit with steps_per_epoch, hence .repeat().
    PRODUCED.clear()
    consumed.clear()
    marks.clear()
    contexts: list[list[int]] = []

    def dataset_fn(ctx: Any) -> Any:
        per_replica = ctx.get_per_replica_batch_size(GLOBAL_BATCH)
        contexts.append([ctx.input_pipeline_id, ctx.num_input_pipelines, per_replica])
        return to_tf_dataset(ids(N), workers=2, input_context=ctx).batch(per_replica).repeat()

    data = strategy.distribute_datasets_from_function(dataset_fn)
    model.fit(data, epochs=EPOCHS, steps_per_epoch=N // GLOBAL_BATCH, verbose=0, callbacks=[Mark()])
    out["input_context"] = {"produced": list(PRODUCED), "consumed": _epochs(consumed, marks)}
    out["contexts"] = contexts
    return out


def _keras3_host(index: int, ports: list[int]) -> dict[str, Any]:
    os.environ["TF_CONFIG"] = _tf_config(index, ports)
    import keras
    import numpy as np
    import tensorflow as tf

    from threadsafe_gen.keras import to_tf_dataset

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    host = tsg.host_info()
    with strategy.scope():
        inp = keras.Input((1,))
        model = keras.Model(inp, keras.layers.Dense(1)(inp))
        optimizer = keras.optimizers.SGD(1e-4)
        model.compile(optimizer, "mse")
    out: dict[str, Any] = {"host": [host.index, host.count, host.source], "fit_error": None}
    try:
        model.fit(to_tf_dataset(ids(N), workers=2).batch(GLOBAL_BATCH // host.count), verbose=0)
    except Exception as exc:  # the documented limitation
        out["fit_error"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]

    # What works: a custom training loop, over one iterator for both epochs.
    PRODUCED.clear()
    consumed: list[int] = []
    marks: list[int] = []
    loss_fn = keras.losses.MeanSquaredError(reduction="sum")

    def dataset_fn(ctx: Any) -> Any:
        per_replica = ctx.get_per_replica_batch_size(GLOBAL_BATCH)
        return to_tf_dataset(ids(N), workers=2, input_context=ctx).batch(per_replica).repeat()

    def record(x: Any) -> None:
        consumed.extend(int(v) for v in x.numpy().ravel())

    def train_step(iterator: Any) -> Any:
        def replica_step(batch: Any) -> Any:
            x, y = batch
            tf.py_function(record, [x], [])
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True)) / GLOBAL_BATCH
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        losses = strategy.run(replica_step, args=(next(iterator),))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    step: Any = tf.function(train_step)  # tf is untyped: a decorator would untype the function

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    for _ in range(EPOCHS):
        for _ in range(N // GLOBAL_BATCH):
            step(iterator)
        marks.append(len(consumed))
    out["custom_loop"] = {"produced": list(PRODUCED), "consumed": _epochs(consumed, marks)}
    out["weights"] = [float(w) for w in np.ravel(model.get_weights()[0])]
    return out


def _torch_host(index: int, ports: list[int]) -> dict[str, Any]:
    import torch.distributed as dist
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{ports[0]}", rank=index, world_size=HOSTS
    )

    class Sharded(IterableDataset[Any]):
        def __init__(self, n: int) -> None:
            self.n = n
            # Captured in the training process: a spawned DataLoader worker would not see
            # the process group; the dataset carries the host to it.
            self.host = tsg.host_info()

        def __iter__(self) -> Iterator[tuple[int, int, int]]:
            tsg.set_hosts(self.host.index, self.host.count)  # in this worker process
            worker = get_worker_info()
            scope: Any = contextlib.nullcontext()
            if worker is not None:
                # torch's worker identity as threadsafe_gen's (issue 12 reads it by itself).
                info = WorkerInfo(worker.id, worker.num_workers, worker.seed, kind="process")
                scope = use_worker_info(info)
            with scope:
                for i in tsg.shard(range(self.n)):
                    me = current_worker_info()
                    assert me is not None
                    yield i, me.host, me.id

    dataset = Sharded(N)
    host = dataset.host
    produced: list[list[int]] = []
    consumed: list[list[int]] = []
    for epoch in range(EPOCHS):
        loader = DataLoader(dataset, batch_size=4, num_workers=2, multiprocessing_context="fork")
        rows = [r for batch in loader for r in zip(*(t.tolist() for t in batch), strict=True)]
        produced += [[epoch, i, h, w] for i, h, w in rows]
        consumed.append(sorted(i for i, _, _ in rows))
    dist.barrier()
    dist.destroy_process_group()
    return {
        "host": [host.index, host.count, host.source],
        "dataloader": {"produced": produced, "consumed": consumed},
    }


def _jax_host(index: int, ports: list[int]) -> dict[str, Any]:
    import jax

    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{ports[0]}", num_processes=HOSTS, process_id=index
    )
    import keras
    import numpy as np

    from threadsafe_gen.keras import GeneratorDataset

    host = tsg.host_info()
    keras.utils.set_random_seed(0)  # the same initial weights in both processes
    # The data is already split by host: Keras' own (tf.data-only) sharding stays off.
    distribution = keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=False
    )
    keras.distribution.set_distribution(distribution)
    local_batch = GLOBAL_BATCH // host.count
    dataset = GeneratorDataset(id_batches(N, local_batch), workers=2, batches=N // GLOBAL_BATCH)
    trained: list[int] = []  # the dataset epoch each training epoch drew

    class Mark(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            trained.append(dataset.epoch - 1)

    inp = keras.Input((1,))
    model = keras.Model(inp, keras.layers.Dense(1)(inp))
    model.compile(keras.optimizers.SGD(1e-4), "mse")
    with dataset:
        history = model.fit(dataset, epochs=EPOCHS, verbose=0, callbacks=[Mark()])
    # Keras 3's JAX trainer builds the model from one batch inside an epoch of its own (the
    # dataset's epoch 0, abandoned after that batch), so training epoch e draws the dataset's
    # epoch trained[e]. Every batch of those was drawn by Keras (GeneratorDataset checks the
    # count), so what a host produced in them is what it fed to that epoch's global batches.
    produced = [[trained.index(e), i, h, w] for e, i, h, w in PRODUCED if e in trained]
    consumed = [sorted(row[1] for row in produced if row[0] == e) for e in range(EPOCHS)]
    return {
        "host": [host.index, host.count, host.source],
        "fit": {"produced": produced, "consumed": consumed},
        "trained_dataset_epochs": trained,
        "loss": [round(float(v), 6) for v in history.history["loss"]],
        "weights": [round(float(w), 6) for w in np.ravel(model.get_weights()[0])],
    }


HOST_MODES = {
    "tf_keras": _tf_keras_host,
    "keras3": _keras3_host,
    "torch": _torch_host,
    "jax": _jax_host,
}

if __name__ == "__main__":
    mode, host_index, port_list = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    result = HOST_MODES[mode](host_index, [int(p) for p in port_list.split(",")])
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    # Leave at once: the collective runtimes (TF's, gloo's, JAX's) may wait at shutdown for a
    # peer that has already gone.
    os._exit(0)
