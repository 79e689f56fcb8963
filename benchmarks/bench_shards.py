"""Pure-Python CPU-bound generator: 2 process shards vs 1 process, counting every item.

Target (issue 6): >= 1.8x with 2 processes, zero duplicates and zero missing items. Threads
cannot do this (the GIL: docs/failure-modes.md row 6.5 measured 0.99-1.06x for a pure-Python loop), and
copying one generator into several processes duplicates its items (catalog 4.1). Here every
worker re-creates the generator call and ``shard()`` gives it its own share of the work.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import statistics
import time
from collections.abc import Iterator

from _util import Result, emit

from threadsafe_gen import shard, threadsafe_generator
from threadsafe_gen._parallel import parallel_iter


def _burn(i: int, work: int) -> int:
    """Pure-Python CPU work (holds the GIL throughout)."""
    total = i
    for k in range(work):
        total = (total * 31 + k) % 1_000_003
    return total


@threadsafe_generator
def cpu_items(n: int, work: int) -> Iterator[tuple[int, int]]:
    """Items 0..n-1, each costing `work` Python loop iterations; split by shard()."""
    for i in shard(range(n)):
        yield i, _burn(i, work)


def _burn_item(args: tuple[int, int]) -> int:
    return _burn(*args)


def pool_time(workers: int, n: int, work: int) -> float:
    """The same work through a plain multiprocessing.Pool: what this machine allows right now."""
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_burn_item, [(i, work) for i in range(n)], chunksize=max(1, n // (4 * workers)))
    return time.perf_counter() - t0


def measure(workers: int, n: int, work: int) -> tuple[float, collections.Counter[int]]:
    t0 = time.perf_counter()
    with parallel_iter(
        cpu_items(n, work), workers=workers, use_multiprocessing=True, timeout=120
    ) as items:
        counts = collections.Counter(i for i, _ in items)
    return time.perf_counter() - t0, counts


def run(quick: bool) -> list[Result]:
    n, work, repeat = (40, 2_000, 1) if quick else (400, 50_000, 3)
    one, two, pool1, pool2 = [], [], [], []
    dup = missing = 0
    for _ in range(repeat):  # alternate to spread machine noise
        for workers, times in ((1, one), (2, two)):
            elapsed, counts = measure(workers, n, work)
            times.append(elapsed)
            dup += sum(c - 1 for c in counts.values() if c > 1)
            missing += n - len(counts)
        pool1.append(pool_time(1, n, work))
        pool2.append(pool_time(2, n, work))
    t1, t2 = statistics.median(one), statistics.median(two)
    speedup = t1 / t2
    ceiling = statistics.median(pool1) / statistics.median(pool2)
    ok = speedup >= 1.8 and dup == 0 and missing == 0
    return [
        Result(
            "pure-Python CPU-bound generator, process shards (parallel_iter)",
            "2 processes vs 1 process",
            speedup,
            target=">= 1.8, 0 duplicates",
            met=ok,
            detail=f"{t1:.2f} s vs {t2:.2f} s for {n} items; {dup} duplicates, {missing} missing over {2 * repeat} runs",
        ),
        Result(
            "machine ceiling for process parallelism (same run)",
            "plain multiprocessing.Pool(2) vs Pool(1), same work",
            ceiling,
            detail="what 2 processes can gain on this machine at this moment; compare the row above with it",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    emit(run(parser.parse_args().quick))
