"""Smoke test of benchmarks/: each benchmark runs at tiny size through run.py and prints its ratios.

Timings are never asserted (2 shared cores): only that every benchmark runs, reports the
ratios it promises, and that the numbers are real (finite, positive).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "run.py")

EXPECTED = {
    "bench_iter": ["per-item cost, alone", "per-item cost, 4 threads"],
    "bench_guard": [
        "workers=2 vs workers=1 (guard)",
        "lock-around-__getitem__ recipe",
        "guarded vs plain __getitem__",
    ],
    "bench_shards": ["2 processes vs 1 process"],
    "bench_shared": ["64 MiB vs 1 MiB SharedArray", "plain ndarray (pickled copy)"],
    "bench_keras_pool": [
        "PyDataset ndarray / PyDataset SharedArray",
        "GeneratorDataset (TF-free workers)",
    ],
    "bench_check": [
        "workers=4 threads: seconds per check",
        "workers=4 fork: seconds per check",
        "workers=4 spawn: seconds per check",
    ],
    "bench_peers": ["whole pass, start-up included", "steady throughput", "time to first item"],
    "bench_hosts": ["loading work per host: from_generator / to_tf_dataset"],
}


#: Benchmarks that build Keras datasets (benchmarks/_keras_datasets.py imports keras).
NEEDS_KERAS = {"bench_check", "bench_guard", "bench_keras_pool", "bench_peers", "bench_hosts"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.keras) if n in NEEDS_KERAS else n for n in sorted(EXPECTED)],
)
def test_benchmark_runs_quick_and_prints_its_ratios(name: str) -> None:
    """`run.py --quick --only NAME` exits 0 and prints each promised ratio with a finite value."""
    proc = subprocess.run(
        [sys.executable, RUN, "--quick", "--only", name],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.startswith("machine: nproc=")
    for metric in EXPECTED[name]:
        line = next((ln for ln in proc.stdout.splitlines() if metric in ln), None)
        assert line is not None, f"{metric!r} missing from:\n{proc.stdout}"
        value = float(re.search(r"\s(-?[\d.]+)(?:x| %| s)\s", line).group(1))  # type: ignore[union-attr]
        assert math.isfinite(value)
        if "%" not in line:
            assert value > 0
