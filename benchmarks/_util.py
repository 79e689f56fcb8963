"""Helpers shared by the benchmarks: results as data, medians, machine description."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class Result:
    """One measured ratio (or value) with its target, as printed and written to the docs."""

    benchmark: str
    metric: str
    value: float
    unit: str = "x"
    target: str = ""  # e.g. "<= 1.1"
    met: bool | None = None  # None: no target
    detail: str = ""  # the raw numbers behind the ratio

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of `repeat` calls of fn()."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(
    fns: dict[str, Callable[[], Any]],
    repeat: int,
    stat: Callable[[list[float]], float] = statistics.median,
) -> dict[str, float]:
    """`stat` (median, or min for an intrinsic cost) of each fn's times, running them alternately
    so that machine noise hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: stat(values) for name, values in times.items()}


def emit(results: list[Result]) -> None:
    """Print results as JSON lines (read by run.py) prefixed so other output can coexist."""
    for result in results:
        print("RESULT " + result.to_json(), flush=True)


def machine() -> dict[str, str]:
    """nproc, CPU model, RAM, OS, and versions of Python and the libraries measured."""
    info = {
        "nproc": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        info["ram"] = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        info["ram"] = "unknown"
    from importlib import metadata

    for dist in (
        "numpy",
        "threadsafe-gen",
        "more-itertools",
        "keras",
        "tensorflow-cpu",
        "tensorflow",
        "tf-keras",
    ):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return info


def epoch_time(dataset: Any, epochs: int, features: int) -> float:
    """Train a tiny Keras 3 model on `dataset`; the median epoch period after the first, in s.

    A period runs from one epoch's start to the next one's (the last: to the end of fit), so
    work an adapter does between epochs (e.g. starting the next epoch's workers) counts.
    """
    import keras

    stamps: list[float] = []

    class Clock(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            stamps.append(time.perf_counter())

        def on_train_end(self, logs: Any = None) -> None:
            stamps.append(time.perf_counter())

    inputs = keras.Input(shape=(features,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(dataset, epochs=epochs, verbose=0, callbacks=[Clock()])
    times = [b - a for a, b in itertools.pairwise(stamps)]
    return statistics.median(times[1:]) if len(times) > 1 else times[0]
