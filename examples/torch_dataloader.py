"""Keras 3 trained on a PyTorch DataLoader with 2 worker processes, every sample once per epoch.

Problem it solves: ``DataLoader(IterableDataset, num_workers=2)`` runs a copy of the dataset
in each worker. An ``__iter__`` that does not split the data by worker yields every item
twice, and Keras trains on both copies without a warning (docs/checks.md#tsg402,
#tsg452). PyTorch's own answer is ``get_worker_info()`` and index arithmetic in every
dataset.

* ``threadsafe_gen.shard(items)`` in ``__iter__`` keeps this worker's share: inside a torch
  worker it reads torch's worker id and count (``threadsafe_gen.worker_info()`` too).
* ``check_loader(loader)`` dry-runs the DataLoader with torch's own workers and reports the
  unsharded version (TSG402, with the measured duplication factor) before training.
* ``persistent_workers=True`` for training: Keras 3 (TensorFlow backend) iterates the
  DataLoader on a tf.data thread, so without it every epoch forks new workers from that
  thread of a busy process. Measured here, such workers sometimes exit with code 1 and no
  traceback, and ``fit()`` fails with "DataLoader worker exited unexpectedly"
  (docs/known-issues.md). Persistent workers are forked once, when Keras first peeks at
  the data on the main thread.

Run it::

    python examples/torch_dataloader.py [--start-method fork|spawn]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import numpy as np
from _common import BATCH_SIZE, N_SAMPLES, check_each_id_once, fit_and_count, make_rows
from torch.utils.data import DataLoader, IterableDataset

import threadsafe_gen as tsg


class Rows(IterableDataset):  # type: ignore[misc]
    """A stream of rows (column 0 is the sample id), split between the DataLoader's workers."""

    def __init__(self, n: int = N_SAMPLES) -> None:
        self.n = n

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rows = make_rows(self.n)  # stands in for reading a file or a query
        for i in tsg.shard(range(self.n)):  # this worker's rows only
            x = rows[i]
            yield x, x[1:2]


class AllRows(Rows):
    """The bug: every worker yields every row."""

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rows = make_rows(self.n)
        for i in range(self.n):
            x = rows[i]
            yield x, x[1:2]


def make_loader(dataset: Any, start_method: str, *, persistent: bool = False) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=BATCH_SIZE,
        num_workers=2,
        multiprocessing_context=start_method,
        persistent_workers=persistent,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-method", default="fork", choices=["fork", "spawn", "forkserver"])
    args = parser.parse_args()

    bad = tsg.check_loader(make_loader(AllRows(), args.start_method), timeout=60)
    print(f"check_loader(DataLoader(AllRows(), num_workers=2)): {sorted(bad.codes())}")
    good = tsg.check_loader(make_loader(Rows(), args.start_method), timeout=60)
    print(f"check_loader(DataLoader(Rows(), num_workers=2)): {sorted(good.codes()) or 'clean'}")

    seen = fit_and_count(make_loader(AllRows(), args.start_method, persistent=True), shuffle=False)
    print(f"without shard(): the model saw {len(seen[0])} samples in epoch 0 for {N_SAMPLES} ids")

    per_epoch = fit_and_count(
        make_loader(Rows(), args.start_method, persistent=True), shuffle=False
    )
    print(f"Keras 3, torch DataLoader(num_workers=2, {args.start_method!r}) over shard()")
    print(check_each_id_once(per_epoch, N_SAMPLES))


if __name__ == "__main__":
    main()
