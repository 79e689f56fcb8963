"""A Keras 3 PyDataset reading records from a list of files, with open handles kept per thread.

Problem it solves: one file object shared by worker threads has one position, so
``seek()`` + ``read()`` from two threads interleave and return the wrong rows, silently
(docs/failure-modes.md row 1.5: 2-8 wrong rows per epoch). Opening a file for every record is
safe but slow. ``threadsafe_gen.per_thread`` gives every worker thread its own small cache of
open handles (at most MAX_OPEN, least recently used closed first, so thousands of files do
not exhaust file descriptors), created on first use and closed when asked.

The records are spread over the files the way sharded datasets usually are: sample ``i`` is
in file ``i % len(files)``.

Run it::

    python examples/file_list.py            # workers=4 threads
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections import OrderedDict
from typing import BinaryIO

import keras
import numpy as np
from _common import BATCH_SIZE, FEATURES, N_SAMPLES, fit_and_count, make_rows, report

from threadsafe_gen import per_thread

FILES = 8  # sample i lives in file i % FILES, record i // FILES
MAX_OPEN = 16  # open handles kept per thread


def write_files(directory: str, rows: np.ndarray, files: int = FILES) -> list[str]:
    """Spread `rows` over `files` files of float32 records (round robin); return their paths."""
    paths = []
    for k in range(files):
        path = os.path.join(directory, f"part-{k:05d}-of-{files:05d}.bin")
        rows[k::files].astype(np.float32).tofile(path)
        paths.append(path)
    return paths


def close_handles(handles: OrderedDict[str, BinaryIO]) -> None:
    """per_thread's close callback: close one thread's cached handles."""
    for handle in handles.values():
        handle.close()
    handles.clear()


class FileListDataset(keras.utils.PyDataset):
    """Sample i is record i // len(paths) of file i % len(paths)."""

    def __init__(
        self, paths: list[str], n: int, batch_size: int = BATCH_SIZE, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        self.paths = list(paths)
        self.n = n
        self.batch_size = batch_size
        self.record_bytes = FEATURES * 4
        # Each thread gets its own {path: open file}; no handle is ever used by two threads.
        self.handles = per_thread(OrderedDict, close=close_handles)

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def _handle(self, path: str) -> BinaryIO:
        """This thread's open handle for `path` (an LRU of at most MAX_OPEN per thread)."""
        handles = self.handles.get()
        handle = handles.get(path)
        if handle is not None:
            handles.move_to_end(path)
            return handle
        if len(handles) >= MAX_OPEN:
            handles.popitem(last=False)[1].close()
        handle = handles[path] = open(path, "rb")  # noqa: SIM115 - closed by the LRU or close_handles
        return handle

    def _read(self, sample: int) -> np.ndarray:
        files = len(self.paths)
        handle = self._handle(self.paths[sample % files])
        handle.seek((sample // files) * self.record_bytes)
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
