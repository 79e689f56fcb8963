"""What the generator adapters share: argument checks, epoch counting, output signatures.

Used by :mod:`._generator_dataset`, :mod:`._tf_data`, :mod:`._legacy` and :mod:`._persistent`.
TensorFlow is imported only inside :func:`infer_signature`.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np

from .._iterators import GeneratorCall
from .._locks import Lock
from .._parallel import check_call
from .._sharding import describe_call
from .._text import short_repr

#: Marks "no item": the end of an epoch, or a slot not filled yet.
MISSING: Any = object()


class EpochCounter:
    """A thread-safe counter of input-pipeline epochs (how often a dataset was iterated)."""

    __slots__ = ("_lock", "_next")

    def __init__(self) -> None:
        self._lock = Lock()
        self._next = 0

    def take(self) -> int:
        with self._lock:
            epoch = self._next
            self._next += 1
            return epoch


def check_source(source: Any, where: str) -> Any:
    """Validate a generator source early, with the engine's own messages."""
    if inspect.isgenerator(source):
        msg = (
            f"{where}() expected a @threadsafe_generator call or a generator *function*, got the "
            f"generator object {short_repr(source)}. A started generator cannot be split into "
            "shards nor restarted for the next epoch. Did you mean to pass the function (and "
            "its arguments through @threadsafe_generator or functools.partial)?"
        )
        raise TypeError(msg)
    check_call(source)
    return source


def check_workers(workers: object, where: str) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        msg = f"{where}() expected workers to be an int >= 1, got workers={short_repr(workers)}."
        raise ValueError(msg)


def use_multiprocessing_arg(use_multiprocessing: bool, processes: bool | None, where: str) -> bool:
    """Resolve ``use_multiprocessing=`` and its deprecated alias ``processes=``.

    Keras calls the choice between worker threads and processes ``use_multiprocessing``; the
    adapters that mirror Keras use the same word. ``processes=`` still works, with a
    ``DeprecationWarning`` that names the new argument (reported at the caller's line).
    """
    if processes is None:
        return use_multiprocessing
    warnings.warn(
        f"{where}(processes=...) is deprecated: pass use_multiprocessing={processes!r} "
        "instead (Keras' own name for the same choice). processes= will be removed in a "
        "future release.",
        DeprecationWarning,
        stacklevel=3,
    )
    if use_multiprocessing and not processes:
        msg = (
            f"{where}() got use_multiprocessing=True and processes=False, which contradict "
            "each other. Pass only use_multiprocessing= (processes= is its deprecated alias)."
        )
        raise TypeError(msg)
    return bool(processes)


def describe(source: Any) -> str:
    """A generator source as messages name it (``module.function(args)``)."""
    return describe_call(source)


def first_item(source: Any) -> Any:
    """The first item of an unsharded run of *source* (to infer the output signature)."""
    it = iter(source.fresh()) if isinstance(source, GeneratorCall) else iter(source())
    try:
        return next(it)
    except StopIteration:
        msg = f"{describe(source)} yielded no items, so there is nothing to train on."
        raise ValueError(msg) from None
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


def as_structure(item: Any) -> Any:
    # Keras and tf.data accept tuples and dicts; a list would be read as one tensor.
    return tuple(item) if isinstance(item, list) else item


def infer_signature(source: Any) -> Any:
    """The ``tf.TensorSpec`` structure of *source*'s first item, batch dimension left open."""
    import tensorflow as tf

    def spec(value: Any) -> Any:
        arr = np.asarray(value)
        shape = (None, *arr.shape[1:]) if arr.ndim else ()
        return tf.TensorSpec(shape=shape, dtype=tf.as_dtype(arr.dtype))

    return tf.nest.map_structure(spec, as_structure(first_item(source)))
