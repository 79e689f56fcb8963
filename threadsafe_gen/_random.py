"""Per-sample random generators that do not depend on which worker runs the sample.

Forked workers replay the parent's numpy state (16/64 distinct augmentations per epoch, the
same again next epoch: docs/failure-modes.md rows 2d, 4.7, 7.4), and a Generator stored on the loader
is copied into every spawn worker. :func:`rng_for` derives the generator from
``(seed, epoch, index)`` alone, like Grain's per-record Philox counter, so the result is the
same whatever thread, process or start method computes it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["rng_for", "set_seed"]

#: Environment variable read at import for the base seed used when ``seed=None``.
SEED_ENV = "THREADSAFE_GEN_SEED"

_U64 = 2**64
_MAX_SEED = 2**128


def _parse_env_seed() -> int:
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw, 0)
    except ValueError:
        value = -1
    if not 0 <= value < _MAX_SEED:
        msg = (
            f"{SEED_ENV}={raw!r} is not a valid seed: expected an integer in [0, 2**128). "
            f"Fix or unset the environment variable."
        )
        raise ValueError(msg)
    return value


_BASE_SEED = _parse_env_seed()


def _check_int(name: str, value: object, limit: int, expected: str) -> int:
    # bool is an int to Python, but True as an index is almost surely a mistake.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        msg = f"rng_for() expected {expected}, got {name}={value!r} (type={type(value).__name__})"
        raise TypeError(msg)
    number = int(value)
    if not 0 <= number < limit:
        msg = f"rng_for() expected {expected}, got {name}={value!r}"
        raise ValueError(msg)
    return number


_KEY_SOURCE: Any = None  # built on first use: importing numpy.random costs ~10-30 ms


def _key_source(words: np.ndarray[Any, np.dtype[np.uint64]]) -> Any:
    # Hands the Philox key to BitGenerator.__init__ directly: Philox(key=...) still builds a
    # SeedSequence from OS entropy first, which costs ~30 us; this path costs ~7 us.
    global _KEY_SOURCE
    if _KEY_SOURCE is None:
        from numpy.random.bit_generator import ISeedSequence

        class _Words(ISeedSequence):
            __slots__ = ("words",)

            def __init__(self, words: np.ndarray[Any, np.dtype[np.uint64]]) -> None:
                self.words = words

            def generate_state(
                self, n_words: int, dtype: object = np.uint32
            ) -> np.ndarray[Any, np.dtype[np.uint64]]:
                return self.words

        _KEY_SOURCE = _Words
    return _KEY_SOURCE(words)


def set_seed(seed: int) -> None:
    """Set the base seed that :func:`rng_for` uses when called with ``seed=None``.

    Use it once at the start of the training script to change every augmentation together
    (e.g. one seed per experiment). It also sets the ``THREADSAFE_GEN_SEED`` environment
    variable, so workers started afterwards with ``spawn`` inherit it, and forked workers
    inherit it anyway. A ``forkserver`` server started *before* the call keeps the old
    value, so for full control pass ``seed=`` explicitly (e.g. store it on the loader).

    Args:
        seed: an integer in ``[0, 2**128)``.

    Raises:
        TypeError: *seed* is not an integer.
        ValueError: *seed* is out of range.

    Example:
        >>> import threadsafe_gen as tsg
        >>> tsg.set_seed(42)
        >>> tsg.rng_for(0).random() == tsg.rng_for(0, seed=42).random()
        True
        >>> tsg.set_seed(0)
    """
    global _BASE_SEED
    _BASE_SEED = _check_int("seed", seed, _MAX_SEED, "an integer seed in [0, 2**128)")
    os.environ[SEED_ENV] = str(_BASE_SEED)


def rng_for(index: int, epoch: int = 0, seed: int | None = None) -> np.random.Generator:
    """Return a numpy Generator determined by ``(seed, epoch, index)`` only.

    Use it for random augmentation inside ``__getitem__`` (or a generator), instead of
    ``np.random`` or a Generator stored on the loader: the result of sample (or batch)
    *index* is then identical whichever worker, thread or start method computes it, and
    differs from one epoch to the next.

    It is ``np.random.Generator(np.random.Philox(key=seed, counter=[0, 0, epoch, index]))``:
    Philox is counter-based, so every ``(epoch, index)`` gets its own stream of 2**128
    blocks that never overlaps another's. A call costs about 12 us (against about 55 us for
    ``np.random.default_rng([seed, epoch, index])``); the bit stream is stable across numpy
    versions, the values of some ``Generator`` distributions may change between numpy
    releases.

    Args:
        index: the sample or batch index, an integer in ``[0, 2**64)``.
        epoch: the epoch, an integer in ``[0, 2**64)``. Pass it from your loader (e.g. a
            counter incremented in ``on_epoch_end``) so augmentations change per epoch.
        seed: an integer in ``[0, 2**128)``. ``None`` means the process-wide base seed: the
            last :func:`set_seed` value, else the ``THREADSAFE_GEN_SEED`` environment
            variable, else 0. It never depends on the worker, so runs are reproducible.

    Returns:
        A new, independent :class:`numpy.random.Generator`.

    Raises:
        TypeError: an argument is not an integer.
        ValueError: an argument is negative or too large.

    Example:
        >>> import threadsafe_gen as tsg
        >>> a = tsg.rng_for(7, epoch=1, seed=123).integers(0, 1000, size=3)
        >>> b = tsg.rng_for(7, epoch=1, seed=123).integers(0, 1000, size=3)
        >>> c = tsg.rng_for(7, epoch=2, seed=123).integers(0, 1000, size=3)
        >>> bool((a == b).all()), bool((a == c).all())
        (True, False)
    """
    idx = _check_int("index", index, _U64, "an index in [0, 2**64)")
    ep = _check_int("epoch", epoch, _U64, "an epoch in [0, 2**64)")
    key = (
        _BASE_SEED if seed is None else _check_int("seed", seed, _MAX_SEED, "a seed in [0, 2**128)")
    )
    words = np.array([key % _U64, key // _U64], dtype=np.uint64)
    counter = np.array([0, 0, ep, idx], dtype=np.uint64)
    bit_generator = np.random.Philox(_key_source(words), counter=counter)
    return np.random.Generator(bit_generator)
