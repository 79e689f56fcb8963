"""The Keras 3 PyDataset used by bench_keras_pool.py (its own module: it imports Keras)."""

from __future__ import annotations

import os
import time
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

BATCHES = 8
FEATURES = 4


class TableDataset(keras.utils.PyDataset):
    """8 small batches that read one value each from `table` (ndarray, SharedArray or None)."""

    def __init__(self, table: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table

    def __len__(self) -> int:
        return BATCHES

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.full((8, FEATURES), float(index), dtype=np.float32)
        if self.table is not None:
            x[:, 1] = float(self.table[index])
        return x, x[:, :1]


class RowsDataset(keras.utils.PyDataset):
    """A clean PyDataset for bench_check.py: 8 batches of distinct rows, 3 ms read per call."""

    def __len__(self) -> int:
        return BATCHES

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < BATCHES:
            raise IndexError(index)
        time.sleep(0.003)
        ids = np.arange(index * 8, index * 8 + 8, dtype=np.float32)
        x = np.stack([ids + k / 10 for k in range(FEATURES)], axis=1)
        return x, x[:, :1]
