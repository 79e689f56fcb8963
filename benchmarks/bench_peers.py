"""threadsafe_gen against the other loaders Keras 3 accepts: the same pure-Python work per
item, 2 worker processes each, side by side (issue 12).

Contenders: one process (the baseline); ours, ``parallel_iter(use_multiprocessing=True)`` over
a ``@threadsafe_generator`` that shards itself (fork; spawn too); a torch ``DataLoader`` over
an ``IterableDataset`` sharded with ``get_worker_info()`` (one item per message, and batches
of 16: torch sends a tensor per message, so batching is its fast path); Grain's
``DataLoader(worker_count=2)`` and ``MapDataset.map().mp_prefetch(2)``; ``tf.data``
``from_generator`` shards under ``interleave``; a Keras ``PyDataset(workers=2,
use_multiprocessing=True)``.

Each contender runs in a fresh interpreter (one's imports and threads cannot slow another),
``--repeat`` times; the best run counts (least disturbed by other work on the machine).
Timing starts after the imports and includes starting the workers. Reported per contender:
time to the first item, total time, steady-state items/s (the last 3/4 of the items over the
time they took), speed-up over one process, CPU seconds (this process and its reaped
workers) and whether every item arrived exactly once. Unless ``--no-keras`` (or ``--quick``), it also trains a
tiny Keras 3 model for 3 epochs on each contender's batches of 16 and reports the median
epoch time after the first.

    python benchmarks/bench_peers.py [--sizes 400 2000] [--repeat 3] [--no-keras] [--markdown]
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _peer_work as W  # noqa: E402
from _util import Result, emit, machine  # noqa: E402

WORKERS = 2
BATCH = 16

# --- the contenders: each returns a fresh iterator over the n items (or batches of them) ---------


def one_process(n: int) -> Iterator[Any]:
    return W.all_items(n)


def ours(n: int, start_method: str = "fork") -> Iterator[Any]:
    from threadsafe_gen._parallel import parallel_iter

    return parallel_iter(
        W.items(n),
        workers=WORKERS,
        use_multiprocessing=True,
        start_method=start_method,
        timeout=120,
    )


def _torch_dataset(n: int) -> Any:
    from torch.utils.data import IterableDataset, get_worker_info

    class Sharded(IterableDataset):  # type: ignore[misc]
        def __iter__(self) -> Iterator[Any]:
            info = get_worker_info()
            return W.worker_share(n, info.id, info.num_workers)

    return Sharded()


def torch_items(n: int, batch_size: int | None = None) -> Iterator[Any]:
    from torch.utils.data import DataLoader

    loader = DataLoader(
        _torch_dataset(n),
        batch_size=batch_size,
        num_workers=WORKERS,
        multiprocessing_context="fork",
    )
    return iter(loader)


def grain_dataloader(n: int) -> Iterator[Any]:
    import grain

    class Work(grain.transforms.Map):  # type: ignore[misc]
        def map(self, i: Any) -> Any:
            return W.work(i)

    loader = grain.DataLoader(
        data_source=grain.sources.RangeDataSource(0, n, 1),
        sampler=grain.samplers.IndexSampler(
            n, grain.sharding.NoSharding(), shuffle=False, num_epochs=1, seed=0
        ),
        operations=[Work()],
        worker_count=WORKERS,
    )
    return iter(loader)


def grain_mp_prefetch(n: int) -> Iterator[Any]:
    import grain

    ds = grain.MapDataset.range(n).map(W.work).to_iter_dataset()
    return iter(ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=WORKERS)))


def tf_interleave(n: int) -> Iterator[Any]:
    import tensorflow as tf

    spec = tf.TensorSpec((W.FEATURES,), tf.float32)
    ds = tf.data.Dataset.range(WORKERS).interleave(
        lambda w: tf.data.Dataset.from_generator(
            W.worker_share, args=(n, w, WORKERS), output_signature=spec
        ),
        cycle_length=WORKERS,
        num_parallel_calls=WORKERS,
        deterministic=False,
    )
    return ds.as_numpy_iterator()  # type: ignore[no-any-return]


def keras_pydataset(n: int) -> Iterator[Any]:
    import keras
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    class Items(keras.utils.PyDataset):  # type: ignore[misc]
        def __len__(self) -> int:
            return n

        def __getitem__(self, i: int) -> Any:
            return W.work(i)[None]  # a batch of one item

    adapter = PyDatasetAdapter(
        Items(workers=WORKERS, use_multiprocessing=True, max_queue_size=10), shuffle=False
    )
    return (batch[0] for batch in adapter.get_numpy_iterator())


CONTENDERS: dict[str, Callable[[int], Iterator[Any]]] = {
    "one process": one_process,
    "threadsafe_gen parallel_iter (fork)": ours,
    "threadsafe_gen parallel_iter (spawn)": functools.partial(ours, start_method="spawn"),
    "torch DataLoader, item per message (fork)": torch_items,
    "torch DataLoader, batch_size=16 (fork)": functools.partial(torch_items, batch_size=BATCH),
    "Grain DataLoader(worker_count=2)": grain_dataloader,
    "Grain MapDataset.map.mp_prefetch(2)": grain_mp_prefetch,
    "tf.data from_generator + interleave(2)": tf_interleave,
    "Keras PyDataset(workers=2, processes)": keras_pydataset,
}
OURS = "threadsafe_gen parallel_iter (fork)"
#: Imported before the clock starts: timing covers the workers, not the framework's import.
IMPORTS = {
    "torch": ["torch.utils.data"],
    "Grain": ["grain"],
    "tf.data": ["tensorflow"],
    "Keras": ["keras", "keras.src.trainers.data_adapters.py_dataset_adapter"],
    "threadsafe_gen": ["threadsafe_gen._parallel"],
}


def _import_for(name: str) -> None:
    import importlib

    for prefix, modules in IMPORTS.items():
        if name.startswith(prefix):
            for module in modules:
                importlib.import_module(module)


def _cpu() -> float:
    t = os.times()  # children: only reaped (joined) workers are counted
    return t.user + t.system + t.children_user + t.children_system


def measure(name: str, n: int) -> dict[str, Any]:
    """One timed run of a contender: first item, total, steady rate, CPU, exactly once."""
    make = CONTENDERS[name]
    _import_for(name)
    c0, t0 = _cpu(), time.perf_counter()
    it = make(n)
    stamps: list[float] = []
    ids: list[int] = []
    for x in it:
        now = time.perf_counter()
        rows = np.asarray(x).reshape(-1, W.FEATURES)
        ids.extend(int(r[0]) for r in rows)
        stamps.extend([now] * len(rows))
    total = time.perf_counter() - t0
    close = getattr(it, "close", None)
    if callable(close):
        close()
    del it
    gc.collect()
    time.sleep(0.2)  # let the workers exit and be reaped (their CPU time then counts)
    k = max(1, len(stamps) // 4)
    span = stamps[-1] - stamps[k - 1] if len(stamps) > k else 0.0
    return {
        "first_s": stamps[0] - t0 if stamps else float("nan"),
        "total_s": total,
        "steady_per_s": (len(stamps) - k) / span if span > 0 else float("nan"),
        "cpu_s": _cpu() - c0,
        "exact": sorted(ids) == list(range(n)),
    }


# --- Keras 3 epoch time: each contender's batches of 16 (x, y), as a user passes them to fit() --


def _k_one_process(n: int, **workers: Any) -> Any:
    import keras

    class Batches(keras.utils.PyDataset):  # type: ignore[misc]
        def __len__(self) -> int:
            return -(-n // BATCH)

        def __getitem__(self, k: int) -> Any:
            return W.stack([W.xy(i) for i in range(k * BATCH, min(n, (k + 1) * BATCH))])

    return Batches(**workers)


def _k_ours(n: int, start_method: str = "fork") -> Any:
    from threadsafe_gen.keras import GeneratorDataset

    return GeneratorDataset(
        W.batches(n, BATCH), workers=WORKERS, use_multiprocessing=True, start_method=start_method
    )


def _k_torch(n: int) -> Any:
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class Sharded(IterableDataset):  # type: ignore[misc]
        def __iter__(self) -> Iterator[Any]:
            info = get_worker_info()
            return W.worker_batches(n, BATCH, info.id, info.num_workers)

    return DataLoader(
        Sharded(), batch_size=None, num_workers=WORKERS, multiprocessing_context="fork"
    )


def _k_grain(n: int) -> Any:
    import grain

    ds = grain.MapDataset.range(n).map(W.xy).to_iter_dataset().batch(BATCH)
    return ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=WORKERS))


def _k_tf(n: int) -> Any:
    import tensorflow as tf

    spec = (
        tf.TensorSpec((None, W.FEATURES), tf.float32),
        tf.TensorSpec((None, W.FEATURES - 1), tf.float32),
    )
    return tf.data.Dataset.range(WORKERS).interleave(
        lambda w: tf.data.Dataset.from_generator(
            W.worker_batches, args=(n, BATCH, w, WORKERS), output_signature=spec
        ),
        cycle_length=WORKERS,
        num_parallel_calls=WORKERS,
        deterministic=False,
    )


def _k_pydataset(n: int) -> Any:
    return _k_one_process(n, workers=WORKERS, use_multiprocessing=True)


#: What each contender gives Keras 3's fit(); None: not measured (see the docs for why).
KERAS: dict[str, Callable[[int], Any] | None] = {
    "one process": _k_one_process,
    "threadsafe_gen parallel_iter (fork)": _k_ours,
    "threadsafe_gen parallel_iter (spawn)": functools.partial(_k_ours, start_method="spawn"),
    "torch DataLoader, item per message (fork)": None,  # Keras gets batches: the row below
    "torch DataLoader, batch_size=16 (fork)": _k_torch,
    "Grain DataLoader(worker_count=2)": None,  # Keras 3.15 + TF: RecursionError (known issue)
    "Grain MapDataset.map.mp_prefetch(2)": _k_grain,
    "tf.data from_generator + interleave(2)": _k_tf,
    "Keras PyDataset(workers=2, processes)": _k_pydataset,
}


def keras_epoch(name: str, n: int) -> float | None:
    """Median epoch time (after the first of 3) of Keras 3 fit() on this contender."""
    make = KERAS.get(name)
    if make is None:
        return None
    from _util import epoch_time

    source = make(n)
    try:
        return epoch_time(source, 3, W.FEATURES)
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            close()


# --- the driver -----------------------------------------------------------------------------------


def run_contender(name: str, n: int, keras_too: bool, timeout: float) -> dict[str, Any] | str:
    """Run one contender in a fresh interpreter; its result, or why it failed."""
    args = [sys.executable, __file__, "--one", name, "--n", str(n)] + (
        [] if keras_too else ["--no-keras"]
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PEER ")]
    if proc.returncode != 0 or not lines:
        return f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return json.loads(lines[-1][5:])  # type: ignore[no-any-return]


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The least disturbed run: least total time; first item and CPU at their best too."""
    top = min(runs, key=lambda r: r["total_s"])
    return {
        **top,
        "first_s": min(r["first_s"] for r in runs),
        "steady_per_s": max(r["steady_per_s"] for r in runs),
        "cpu_s": min(r["cpu_s"] for r in runs),
        "exact": all(r["exact"] for r in runs),
        "keras_epoch_s": min(
            (r["keras_epoch_s"] for r in runs if r.get("keras_epoch_s")), default=None
        ),
    }


def table(n: int, results: dict[str, dict[str, Any] | str]) -> str:
    base = results.get("one process")
    base_total = base["total_s"] if isinstance(base, dict) else float("nan")
    lines = [
        f"\n{n} items, {WORKERS} workers",
        "",
        "| contender | first item | total | items/s, whole pass | steady items/s | speed-up | CPU s | Keras epoch | exactly once |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if isinstance(r, str):
            lines.append(f"| {name} | failed: {r} | | | | | | | |")
            continue
        epoch = f"{r['keras_epoch_s']:.2f} s" if r.get("keras_epoch_s") else "-"
        lines.append(
            f"| {name} | {r['first_s']:.3f} s | {r['total_s']:.2f} s | {n / r['total_s']:.0f} "
            f"| {r['steady_per_s']:.0f} "
            f"| {base_total / r['total_s']:.2f}x | {r['cpu_s']:.2f} | {epoch} | {r['exact']} |"
        )
    return "\n".join(lines)


def summary(n: int, results: dict[str, dict[str, Any] | str]) -> list[Result]:
    """Ours against the best peer: steady throughput and time to the first item."""
    peers = {
        k: v
        for k, v in results.items()
        if isinstance(v, dict) and k != "one process" and not k.startswith("threadsafe_gen")
    }
    mine = results.get(OURS)
    if not isinstance(mine, dict) or not peers:
        return []
    fastest = max(peers, key=lambda k: peers[k]["steady_per_s"])
    quickest = min(peers, key=lambda k: peers[k]["first_s"])
    soonest = min(peers, key=lambda k: peers[k]["total_s"])
    rate = mine["steady_per_s"] / peers[fastest]["steady_per_s"]
    first = peers[quickest]["first_s"] / mine["first_s"]
    whole = peers[soonest]["total_s"] / mine["total_s"]
    return [
        Result(
            f"peers, {n} items, 2 workers: whole pass, start-up included",
            f"ours (fork) / best peer ({soonest}), items/s",
            whole,
            target=">= 1.0",
            met=whole >= 1.0,
            detail=f"{n / mine['total_s']:.0f} vs {n / peers[soonest]['total_s']:.0f} items/s",
        ),
        Result(
            f"peers, {n} items, 2 workers: steady throughput",
            f"ours (fork) / best peer ({fastest})",
            rate,
            target=">= 1.0",
            met=rate >= 1.0,
            detail=f"{mine['steady_per_s']:.0f} vs {peers[fastest]['steady_per_s']:.0f} items/s",
        ),
        Result(
            f"peers, {n} items, 2 workers: time to first item",
            f"best peer ({quickest}) / ours (fork)",
            first,
            target=">= 1.0",
            met=first >= 1.0,
            detail=f"{mine['first_s'] * 1000:.0f} ms vs {peers[quickest]['first_s'] * 1000:.0f} ms",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each")
    parser.add_argument("--sizes", type=int, nargs="*", default=[400, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--no-keras", dest="keras", action="store_false", help="skip the Keras 3 epoch times"
    )
    parser.add_argument("--markdown", action="store_true", help="print the tables")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a child: one contender, one run
        result = measure(args.one, args.n)
        if args.keras:
            result["keras_epoch_s"] = keras_epoch(args.one, args.n)
        print("PEER " + json.dumps(result), flush=True)
        return
    sizes, repeat = ([40], 1) if args.quick else (args.sizes, args.repeat)
    keras_too = args.keras and not args.quick
    out: list[Result] = []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for n in sizes:
        results: dict[str, dict[str, Any] | str] = {}
        for name in CONTENDERS:
            runs = [run_contender(name, n, keras_too, 600) for _ in range(repeat)]
            good = [r for r in runs if isinstance(r, dict)]
            results[name] = best(good) if good else next(r for r in runs if isinstance(r, str))
        if args.markdown:
            print(table(n, results), flush=True)
        out += summary(n, results)
    if args.markdown:
        info = machine()
        for dist in ("torch", "grain"):
            try:
                from importlib import metadata

                info[dist] = metadata.version(dist)
            except Exception:
                pass
        info["load average"] = f"{load:.1f} at start, {os.getloadavg()[0]:.1f} at end"
        print("\nmachine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    emit(out)


if __name__ == "__main__":
    main()
