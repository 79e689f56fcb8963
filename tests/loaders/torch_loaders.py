"""PyTorch datasets for tests/test_probes_torch.py, one problem each (and its fix).

A module of its own so that spawned DataLoader workers can import the classes by name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import Dataset, IterableDataset

import threadsafe_gen as tsg

from .basic import FaultyRecords

N = 64


class Replicated(IterableDataset[Any]):
    """Every worker yields every item: 2x with 2 workers."""

    def __iter__(self) -> Iterator[Any]:
        for i in range(N):
            yield np.float32(i)


class Sharded(IterableDataset[Any]):
    """The fix: threadsafe_gen.shard() reads torch's worker id and count."""

    def __iter__(self) -> Iterator[Any]:
        for i in tsg.shard(range(N)):
            yield np.float32(i)


class Rows(FaultyRecords, Dataset[Any]):
    """A map-style dataset; kind="lock" holds a raw lock, "ourlock" threadsafe_gen's."""

    n = N


def keep(batch: Any) -> Any:
    """A module-level collate_fn: spawned workers import it by name."""
    return batch


def reset_numpy(worker_id: int) -> None:
    """The bug: every worker (and every epoch) starts numpy from the same seed."""
    np.random.seed(0)


class Noisy(Dataset[Any]):
    """Random augmentation from numpy's global RNG (torch reseeds it per worker)."""

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> Any:
        return np.random.random(3)


class CarriesRng(Dataset[Any]):
    """An RNG stored on the dataset: copied with its state into every worker."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> Any:
        return self.rng.random(3)


class Db(Dataset[Any]):
    """A connection and an open file made in __init__, inherited by forked workers."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path)
        self.file = open(path, "rb")  # noqa: SIM115 - the problem under test

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> Any:
        return self.conn.execute("select ?", (i,)).fetchone()[0]

    def close(self) -> None:
        self.conn.close()
        self.file.close()


def _connect(owner: DbPerWorker) -> sqlite3.Connection:
    return sqlite3.connect(owner.path, check_same_thread=False)


class DbPerWorker(Dataset[Any]):
    """The fix: a connection per worker process, opened on first use."""

    conn = tsg.per_process(_connect)

    def __init__(self, path: str) -> None:
        self.path = path

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> Any:
        return self.conn.execute("select ?", (i,)).fetchone()[0]


class Paths(Dataset[Any]):
    """File names as a list of Python str (copy-on-read), or as one numpy array (the fix)."""

    def __init__(self, n: int, *, as_array: bool = False) -> None:
        paths = [f"img_{i:08d}.jpg" for i in range(n)]
        self.paths: Any = np.array(paths) if as_array else paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> int:
        return len(str(self.paths[i]))


class Stores(Dataset[Any]):
    """An HDF5 file and an LMDB environment opened in __init__ (fork-unsafe, both)."""

    def __init__(self, h5_path: str, lmdb_path: str) -> None:
        import h5py
        import lmdb

        self.h5 = h5py.File(h5_path, "r")
        self.env = lmdb.open(lmdb_path, readonly=True, lock=False)

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> Any:
        return self.h5["x"][i]

    def close(self) -> None:
        self.h5.close()
        self.env.close()
