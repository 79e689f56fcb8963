"""A Keras 3 PyDataset reading many files, with open file handles kept per thread.

Problem it solves: one file object shared by worker threads has one position, so
``seek()`` + ``read()`` from two threads interleave and return the wrong rows, silently
(failure-modes catalog row 1.5: 2-8 wrong rows per epoch). Opening the file on every call is
safe but slow for many small reads. ``threadsafe_gen.per_thread`` gives every worker thread
its own cache of open handles, created on first use, and closes them when asked.

Run it::

    python examples/file_list.py            # workers=4 threads
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from typing import BinaryIO

import keras
import numpy as np
from _common import BATCH_SIZE, FEATURES, N_SAMPLES, fit_and_count, make_rows, report

from threadsafe_gen import per_thread

RECORDS_PER_FILE = 4  # several records per file, so reads really seek


def write_files(directory: str, rows: np.ndarray) -> list[str]:
    """Split `rows` into files of RECORDS_PER_FILE float32 records each; return their paths."""
    paths = []
    for k, start in enumerate(range(0, len(rows), RECORDS_PER_FILE)):
        path = os.path.join(directory, f"part-{k:05d}.bin")
        rows[start : start + RECORDS_PER_FILE].astype(np.float32).tofile(path)
        paths.append(path)
    return paths


def close_handles(handles: dict[str, BinaryIO]) -> None:
    for handle in handles.values():
        handle.close()


class FileListDataset(keras.utils.PyDataset):
    """Sample i is record i % RECORDS_PER_FILE of file i // RECORDS_PER_FILE."""

    def __init__(
        self, paths: list[str], n: int, batch_size: int = BATCH_SIZE, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        self.paths = list(paths)
        self.n = n
        self.batch_size = batch_size
        self.record_bytes = FEATURES * 4
        # Each thread gets its own {path: open file}; no handle is ever used by two threads.
        self.handles = per_thread(dict, close=close_handles)

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def _read(self, sample: int) -> np.ndarray:
        path = self.paths[sample // RECORDS_PER_FILE]
        handles = self.handles.get()
        handle = handles.get(path)
        if handle is None:
            handle = handles[path] = open(path, "rb")  # noqa: SIM115 - closed by close_handles
        handle.seek((sample % RECORDS_PER_FILE) * self.record_bytes)
        return np.frombuffer(handle.read(self.record_bytes), dtype=np.float32)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        lo = index * self.batch_size
        hi = min(lo + self.batch_size, self.n)
        x = np.stack([self._read(i) for i in range(lo, hi)])  # a fresh array per call
        return x, x[:, 1:2]


def make_loader(directory: str, *, workers: int = 4) -> FileListDataset:
    """Write the files into `directory` and return the dataset (used by check_examples.py)."""
    paths = write_files(directory, make_rows())
    return FileListDataset(paths, N_SAMPLES, workers=workers, use_multiprocessing=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        loader = make_loader(tmp, workers=args.workers)
        report(
            f"File-list PyDataset, {len(loader.paths)} files, workers={args.workers} threads",
            fit_and_count(loader),
        )
        loader.handles.close_all()


if __name__ == "__main__":
    main()
