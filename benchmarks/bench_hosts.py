"""Loading work per host with 2 hosts: tf.data's default sharding against splitting by host.

Two ``tf.distribute.MultiWorkerMirroredStrategy`` workers on 127.0.0.1 (two processes, free
ports), each iterating one epoch of its dataset through ``strategy.experimental_distribute_
dataset`` (what ``fit()`` does) with a generator whose items cost ``--item-ms`` of waiting (a
file read) each. Per host, it counts the items the generator produced and the items the host
kept, and times the epoch (best of ``--repeat``):

* ``from_generator``: ``tf.data.Dataset.from_generator(all items)`` with tf.data's default
  auto-sharding. For a generator it falls back to DATA sharding: every host runs the whole
  generator and keeps 1/2 (docs/how-to/several-machines.md).
* ``shard() + OFF``: the same ``from_generator`` over ``threadsafe_gen.shard(items)``, which
  keeps the host's half, with ``AutoShardPolicy.OFF``.
* ``to_tf_dataset(workers=2)``: ``threadsafe_gen.keras.to_tf_dataset``, which does both by
  itself and runs the host's half in 2 local workers.

Run: ``python benchmarks/bench_hosts.py`` (about a minute; ``--quick`` for a smoke run). The
hosts share this machine's cores, so the times are those of 2 hosts on one box; the produced
counts are exact.
"""

from __future__ import annotations

import argparse
import contextlib
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

from _util import Result, emit, machine

import threadsafe_gen as tsg

HOSTS = 2
MODES = ("from_generator", "shard() + OFF", "to_tf_dataset(workers=2)")
PRODUCED = [0]  # items produced by the generators of this process, all modes


def _load(i: int, item_ms: float) -> Any:
    import numpy as np

    time.sleep(item_ms / 1000)  # the read of one file
    PRODUCED[0] += 1
    return np.full((16,), i, np.float32)


def _all_items(n: int, item_ms: float) -> Iterator[Any]:
    for i in range(n):
        yield _load(i, item_ms)


def _host_items(n: int, item_ms: float) -> Iterator[Any]:
    for i in tsg.shard(range(n)):
        yield _load(i, item_ms)


def host(index: int, ports: list[int], n: int, item_ms: float, repeat: int) -> dict[str, Any]:
    """One host: every mode, best-of-*repeat* epochs, produced and kept items per epoch."""
    workers = [f"127.0.0.1:{p}" for p in ports]
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
    )
    import tensorflow as tf

    from threadsafe_gen.keras import to_tf_dataset

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    spec = tf.TensorSpec((16,), tf.float32)
    off = tf.data.Options()
    off.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    global_batch = 8
    datasets = {
        MODES[0]: tf.data.Dataset.from_generator(
            lambda: _all_items(n, item_ms), output_signature=spec
        ).batch(global_batch),
        MODES[1]: tf.data.Dataset.from_generator(
            lambda: _host_items(n, item_ms), output_signature=spec
        )
        .batch(global_batch // HOSTS)
        .with_options(off),
        MODES[2]: to_tf_dataset(
            tsg.threadsafe_generator(_host_items)(n, item_ms), workers=2, output_signature=spec
        ).batch(global_batch // HOSTS),
    }
    out: dict[str, Any] = {"host": index}
    for mode, ds in datasets.items():
        dist = strategy.experimental_distribute_dataset(ds)
        times, produced, kept = [], 0, 0
        for _ in range(repeat):
            before = PRODUCED[0]
            t0 = time.perf_counter()
            kept = sum(int(tf.size(b).numpy()) // 16 for b in _local(strategy, dist))
            times.append(time.perf_counter() - t0)
            produced = PRODUCED[0] - before
        out[mode] = {"produced": produced, "kept": kept, "seconds": min(times)}
    return out


def _local(strategy: Any, dist: Any) -> Iterator[Any]:
    for batch in dist:
        yield from strategy.experimental_local_results(batch)


# --- the driver -------------------------------------------------------------------------------


def _free_ports(k: int) -> list[int]:
    socks = [socket.socket() for _ in range(k)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def run_hosts(n: int, item_ms: float, repeat: int, timeout: float) -> list[dict[str, Any]]:
    """Start the 2 hosts, each in its own session, kill them (and theirs) when done."""
    ports = ",".join(map(str, _free_ports(HOSTS)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")]
    )
    with tempfile.TemporaryDirectory(prefix="bench_hosts_") as tmp:
        logs = [open(Path(tmp) / f"host{i}.out", "w+b") for i in range(HOSTS)]  # noqa: SIM115
        args = [str(n), str(item_ms), str(repeat), ports]
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--host", str(i), *args],
                stdout=logs[i],
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            for i in range(HOSTS)
        ]
        try:
            deadline = time.monotonic() + timeout
            for proc in procs:
                proc.wait(max(1.0, deadline - time.monotonic()))
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        texts = []
        for log in logs:
            log.seek(0)
            texts.append(log.read().decode("utf-8", "replace"))
            log.close()
    results = []
    for i, text in enumerate(texts):
        lines = [ln for ln in text.splitlines() if ln.startswith("HOST ")]
        if not lines:
            msg = f"host {i} reported nothing:\n" + "\n".join(text.splitlines()[-20:])
            raise RuntimeError(msg)
        results.append(json.loads(lines[-1][5:]))
    return results


def run(quick: bool, item_ms: float) -> list[Result]:
    n, repeat = (32, 1) if quick else (256, 3)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    hosts = run_hosts(n, item_ms, repeat, timeout=300)
    wall = time.perf_counter() - t0
    what = f"2 MultiWorkerMirroredStrategy hosts, {n} items of {item_ms:g} ms"
    base = max(h[MODES[0]]["produced"] for h in hosts)
    results = []
    for mode in MODES:
        produced = [h[mode]["produced"] for h in hosts]
        kept = [h[mode]["kept"] for h in hosts]
        seconds = [h[mode]["seconds"] for h in hosts]
        results.append(
            Result(
                what,
                f"items produced per host: {mode}",
                float(max(produced)),
                unit=" items",
                detail=(
                    f"produced {produced[0]} + {produced[1]}, kept {kept[0]} + {kept[1]} of "
                    f"{n}; epoch {seconds[0]:.2f} s / {seconds[1]:.2f} s per host (best of "
                    f"{repeat}); {max(produced) / base:.2f} of from_generator's loading work"
                ),
            )
        )
    results.append(
        Result(
            what,
            "loading work per host: from_generator / to_tf_dataset",
            base / max(h[MODES[2]]["produced"] for h in hosts),
            detail=f"load average {load:.1f} at start; {wall:.0f} s with TF start-up",
        )
    )
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["--host"]:
        i, n_items, ms, rep, port_list = sys.argv[2:7]
        result = host(
            int(i), [int(p) for p in port_list.split(",")], int(n_items), float(ms), int(rep)
        )
        sys.stdout.write("HOST " + json.dumps(result) + "\n")
        sys.stdout.flush()
        os._exit(0)  # do not wait for the collective runtime's shutdown
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--item-ms", type=float, default=5.0)
    options = parser.parse_args()
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    results = run(options.quick, options.item_ms)
    for r in results:
        print(f"{r.metric:60s} {r.value:8.2f}{r.unit}  {r.detail}")
    emit(results)
