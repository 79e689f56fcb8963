"""Keras 3 PyDatasets for the process probes' tests (tests/test_probes_{fork,inspection,spawn}.py).

Imports Keras: tests import this module inside the test that needs it.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from loaders.processes import N_BATCHES, batch_for


class PurePyDataset(keras.utils.PyDataset):  # type: ignore[misc]
    """Batches are a pure function of the index."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def __len__(self) -> int:
        return N_BATCHES

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return batch_for(index)


class RandomPyDataset(PurePyDataset):
    """Augments with numpy's global RNG (docs/failure-modes.md row 2d)."""

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = batch_for(index)
        return x + np.random.normal(size=x.shape).astype(np.float32), y
