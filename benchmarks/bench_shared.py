"""Spawn worker start time with a 1 GiB SharedArray vs a 1 MiB one (and a plain ndarray beside).

Target (issue 6): starting a spawn worker that receives a 1 GiB SharedArray takes <= 1.2x
the time with a 1 MiB one: the array travels as a ~150-byte handle and the worker maps the
same memory. A plain numpy array of the same size is pickled into the worker instead
(docs/failure-modes.md row 2.0b: +6-7 s per epoch for 128 MiB under Keras 3).

Measured: from ``Process.start()`` until the worker has unpickled its argument and read the
array's last element.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from typing import Any

import numpy as np
from _util import Result, emit

from threadsafe_gen import SharedArray


def _child(data: Any, conn: Any) -> None:
    array = np.asarray(data)
    conn.send(int(array[-1]))


def start_time(data: Any) -> float:
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(data, send))
    t0 = time.perf_counter()
    proc.start()
    value = receive.recv()
    elapsed = time.perf_counter() - t0
    proc.join(60)
    send.close()
    receive.close()
    assert value == 7, value
    return elapsed


def filled(nbytes: int) -> SharedArray:
    shared = SharedArray((nbytes,), np.uint8)
    shared[:] = 7  # touch every page, so the memory really exists
    return shared


def run(quick: bool) -> list[Result]:
    small_bytes = 1 << 20
    big_bytes = (64 << 20) if quick else (1 << 30)
    repeat = 2 if quick else 5
    plain_big = np.full(big_bytes, 7, dtype=np.uint8)
    with filled(small_bytes) as small, filled(big_bytes) as big:
        times: dict[str, list[float]] = {"small": [], "big": [], "plain": []}
        for _ in range(repeat):
            times["small"].append(start_time(small))
            times["big"].append(start_time(big))
        for _ in range(max(1, repeat // 2)):  # the slow one, fewer times
            times["plain"].append(start_time(plain_big))
    t_small, t_big, t_plain = (statistics.median(times[k]) for k in ("small", "big", "plain"))
    big_label = f"{big_bytes >> 20} MiB"
    ratio = t_big / t_small
    return [
        Result(
            "spawn worker start with a SharedArray",
            f"{big_label} vs 1 MiB SharedArray",
            ratio,
            target="<= 1.2",
            met=ratio <= 1.2,
            detail=f"{t_big * 1e3:.0f} ms vs {t_small * 1e3:.0f} ms (median of {repeat})",
        ),
        Result(
            "spawn worker start with a SharedArray",
            f"{big_label} plain ndarray (pickled copy) vs {big_label} SharedArray",
            t_plain / t_big,
            detail=f"{t_plain * 1e3:.0f} ms vs {t_big * 1e3:.0f} ms",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    emit(run(parser.parse_args().quick))
