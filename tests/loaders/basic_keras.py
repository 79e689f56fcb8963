"""Keras 3 PyDataset and tf_keras loaders for the check_loader tests (imports TensorFlow).

Only tests that need a framework import this module, so the rest of the suite stays light.
Classes are module level so spawn children can import them.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tf_keras

import loaders.basic as L
from loaders.basic import BS, N, batch_for


class PureDataset(keras.utils.PyDataset):  # type: ignore[misc]  # keras is untyped
    """A clean Keras 3 PyDataset: a pure function of the index."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def __len__(self) -> int:
        return N // BS

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return batch_for(index)


class CursorDataset(PureDataset):
    """Keras 3 PyDataset that ignores the index (docs/failure-modes.md row 1.1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cursor = 0

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.cursor
        time.sleep(0.002)
        self.cursor = (c + 1) % len(self)
        return batch_for(c)


class SqliteDataset(PureDataset):
    """Keras 3 PyDataset with a thread-bound sqlite3 connection (docs/failure-modes.md row 1.7)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn = sqlite3.connect(":memory:")

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        self.conn.execute("select 1").fetchone()
        return batch_for(index)


class LegacySequence(tf_keras.utils.Sequence):  # type: ignore[misc]  # tf_keras is untyped
    """A clean tf_keras Sequence."""

    def __len__(self) -> int:
        return N // BS

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return batch_for(index)


class LegacyBufferSequence(LegacySequence):
    """tf_keras Sequence returning one reused buffer (docs/failure-modes.md row 1.3)."""

    def __init__(self) -> None:
        super().__init__()
        self.buf = np.zeros((BS, 4), np.float32)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        self.buf[:] = batch_for(index)[0]
        return self.buf, self.buf[:, 0]


def image_flow() -> Any:
    """tf_keras ImageDataGenerator().flow over 64 tiny images (docs/failure-modes.md row 7.x)."""
    x = np.arange(N * 4 * 4 * 3, dtype=np.float32).reshape(N, 4, 4, 3)
    y = np.arange(N, dtype=np.float32)
    gen = tf_keras.preprocessing.image.ImageDataGenerator()
    return gen.flow(x, y, batch_size=BS, shuffle=False)


# --- one problem loader per finding category, in each framework family ----------------------
# The duck-typed loaders of tests/loaders/basic.py, re-based on Keras 3's PyDataset and on tf_keras'
# Sequence. Each class is a module attribute with a matching __qualname__, so that spawned
# workers import it by name like any user's class.

FAMILIES = {"keras3": keras.utils.PyDataset, "tf_keras": tf_keras.utils.Sequence}


def _in_family(problem: type[Any], family: str) -> type:
    base = FAMILIES[family]
    name = f"{family.capitalize()}{problem.__name__}"

    def __init__(self: Any, **kwargs: Any) -> None:
        problem.__init__(self)  # the duck-typed loaders' own state
        base.__init__(self, **kwargs)  # PyDataset: workers, use_multiprocessing, ...

    cls = type(name, (problem, base), {"__init__": __init__, "__module__": __name__})
    cls.__qualname__ = name
    globals()[name] = cls
    return cls


def in_family(problem: str, family: str) -> type:
    """``problem`` (a class name in tests/loaders/basic.py) as a loader of ``family``."""
    cls = globals().get(f"{family.capitalize()}{problem}")
    return cls if cls is not None else _in_family(getattr(L, problem), family)


for _family in FAMILIES:
    for _problem in (
        "UnpicklableSeq",
        "SqliteSeq",
        "CursorSeq",
        "WrapSeq",
        "RandomSeq",
        "LenTooLongSeq",
        "DtypeChangeSeq",
        "LockedSeq",
        "FdLeakSeq",
        "HangSeq",
        "ExitSeq",
    ):
        _in_family(getattr(L, _problem), _family)
