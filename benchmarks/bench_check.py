"""How long check_loader() takes on a typical loader: threads, fork, and with a spawn worker.

Target (issue 3): under 5 s for the thread and fork checks, under 15 s with a spawn probe, on
2 cores. Two typical loaders with 8 batches, each batch waiting 3 ms (a small read): a
duck-typed Sequence defined in this script, and a Keras 3 PyDataset from a module that imports
Keras, so its spawned worker must import TensorFlow, the slowest case users have. Every check
runs every probe; the spawn dry run happens in each of them (spawn-only problems are reported
whatever the start method), so the planned start method changes severities more than time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np
from _util import Result, emit

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class Rows:
    """A pure Sequence: 8 batches of 8 distinct rows, each call waiting 3 ms (a small read)."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < 8:
            raise IndexError(index)
        time.sleep(0.003)
        ids = np.arange(index * 8, index * 8 + 8, dtype=np.float32)
        x = np.stack([ids + k / 10 for k in range(4)], axis=1)
        return x, x[:, :1]


SETTINGS: dict[str, dict[str, Any]] = {
    "threads": {"workers": 4},
    "fork": {"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    "spawn": {"workers": 4, "use_multiprocessing": True, "start_method": "spawn"},
}
TARGETS = {"threads": 5.0, "fork": 5.0, "spawn": 15.0}


def check_time(loader: Any, settings: dict[str, Any], repeat: int) -> tuple[float, list[str]]:
    """Median seconds of check_loader(loader, **settings), and the codes it reported."""
    from threadsafe_gen import check_loader

    times, codes = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = check_loader(loader, **settings)
        times.append(time.perf_counter() - t0)
        codes = sorted({f.code for f in report.findings})
    return statistics.median(times), codes


def run(quick: bool) -> list[Result]:
    from _keras_datasets import RowsDataset

    repeat = 1 if quick else 3
    loaders = {"duck-typed Sequence": Rows, "Keras 3 PyDataset": RowsDataset}
    results = []
    for name, make in loaders.items():
        for setting, kwargs in SETTINGS.items():
            seconds, codes = check_time(make(), kwargs, repeat)
            results.append(
                Result(
                    f"check_loader() on a {name}",
                    f"workers=4 {setting}: seconds per check",
                    seconds,
                    unit="s",
                    target=f"< {TARGETS[setting]:g} s",
                    met=seconds < TARGETS[setting],
                    detail=f"median of {repeat}; findings: {', '.join(codes) or 'none'}",
                )
            )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    emit(run(parser.parse_args().quick))
