"""Keras 3 trained on a Grain pipeline with 2 worker processes and a random augmentation,
every sample once per epoch.

Problems it solves: an augmentation that draws from ``np.random`` in a Grain ``Map`` is not
reproducible (docs/checks.md#tsg504, #tsg552), and a generator cannot feed Grain's workers
at all (``ValueError: Cannot slice IterDataset source``) unless its source takes the slice
each worker is given.

* The augmentation is a ``grain.transforms.RandomMap``: Grain hands it an ``rng`` seeded per
  element, so the same run gives the same augmentations, in any worker.
* The rows are a random-access ``MapDataset`` (shuffled with a seed), split between the
  workers by ``mp_prefetch``; ``--generator`` feeds them from a generator function through
  ``threadsafe_gen.grain.GeneratorIterDataset`` instead, which takes its slice in each worker.
* ``check_loader(pipeline)`` dry-runs it with Grain's own workers before training.

Known issue (Keras 3.15, TensorFlow backend): ``fit(grain.DataLoader(..., worker_count=2))``
fails with ``RecursionError: maximum recursion depth exceeded`` in Keras' own
``module_utils.LazyModule``: Keras appends a local transform that refers to its lazy
``tensorflow`` module to the DataLoader's operations, and Grain pickles the operations into
its spawned workers. A dataset pipeline ending in ``mp_prefetch`` (used here) is not
affected: Keras adds its conversion after the workers, in this process
(docs/known-issues.md).

Grain spawns its workers, which import this script again: it imports only numpy and grain at
the top, and Keras inside ``main()``.

Run it::

    python examples/grain_loader.py [--generator]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import grain
import numpy as np
from _common import BATCH_SIZE, N_SAMPLES, check_each_id_once, fit_and_count, make_rows

import threadsafe_gen as tsg
from threadsafe_gen.grain import GeneratorIterDataset

WORKERS = grain.MultiprocessingOptions(num_workers=2)


class Jitter(grain.transforms.RandomMap):  # type: ignore[misc]
    """Noise on the features (never on column 0, the sample id), from Grain's rng."""

    def random_map(self, row: np.ndarray, rng: np.random.Generator) -> tuple[Any, Any]:
        x = row.copy()
        x[1:] += rng.normal(scale=0.01, size=x.shape[0] - 1).astype(np.float32)
        return x, x[1:2]


def rows_from_a_file(n: int) -> Iterator[np.ndarray]:
    """A generator, as a reader of a file or a query would be."""
    yield from make_rows(n)


def pipeline(generator: bool) -> Any:
    """Rows -> random augmentation -> batches, made by 2 Grain worker processes."""
    if generator:
        rows = GeneratorIterDataset(rows_from_a_file, N_SAMPLES)
        augmented = rows.random_map(Jitter(), seed=3)
    else:
        rows = grain.MapDataset.source(make_rows(N_SAMPLES)).seed(3).shuffle()
        augmented = rows.random_map(Jitter()).to_iter_dataset()
    return augmented.batch(BATCH_SIZE).mp_prefetch(WORKERS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", action="store_true", help="rows from a generator function")
    args = parser.parse_args()

    report = tsg.check_loader(pipeline(args.generator), timeout=90)
    print(f"check_loader(pipeline): {sorted(report.codes()) or 'clean'}")

    per_epoch = fit_and_count(pipeline(args.generator), shuffle=False)
    source = "GeneratorIterDataset" if args.generator else "MapDataset"
    print(f"Keras 3, Grain {source} + RandomMap, mp_prefetch(num_workers=2)")
    print(check_each_id_once(per_epoch, N_SAMPLES))


if __name__ == "__main__":
    main()
