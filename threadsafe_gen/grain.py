"""Grain adapter: a generator as a Grain ``IterDataset`` source that its workers share out.

Grain splits an ``IterDataset`` between the processes of ``mp_prefetch`` by calling
``set_slice()`` on its source in each worker; a source that cannot be sliced fails with
``ValueError: Cannot slice IterDataset source``, and one whose ``set_slice`` ignores the
slice makes every worker yield everything. :class:`GeneratorIterDataset` turns a generator
function into a source that takes its slice: worker ``k`` of ``n`` keeps every ``n``-th item
(the auto-sharding of ``@threadsafe_generator``), or, when the generator asks
``threadsafe_gen.shard()`` / ``worker_info()`` before its first item, yields what it chose
itself. Requires ``grain`` (``pip install threadsafe-gen[grain]``, Python >= 3.11).

>>> import grain
>>> def numbers(n):
...     yield from range(n)
>>> ds = GeneratorIterDataset(numbers, 4).map(lambda x: x * 10)
>>> list(ds)
[0, 10, 20, 30]
>>> workers = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=2))  # 2 processes
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

try:
    import grain
    from grain._src.python.dataset import dataset as _grain_dataset
except ImportError as exc:  # pragma: no cover - depends on the environment
    msg = (
        "threadsafe_gen.grain needs Grain: pip install 'threadsafe-gen[grain]' "
        "(grain requires Python >= 3.11)"
    )
    raise ImportError(msg) from exc

from ._sharding import (
    WorkerInfo,
    auto_shard,
    current_worker_info,
    derive_seed,
    describe_call,
    use_worker_info,
)
from ._text import short_repr

__all__ = ["GeneratorIterDataset"]


class GeneratorIterDataset(grain.IterDataset):  # type: ignore[misc]
    """A generator function as a Grain ``IterDataset`` source, split between Grain's workers.

    Use it to feed a generator (lines of a file, rows of a query, a ``@threadsafe_generator``
    function) into a Grain pipeline with ``mp_prefetch``: each worker process re-creates the
    generator and keeps its own share, so every item arrives exactly once per pass.

    Args:
        func: a generator function (or any callable returning an iterable); it is sent to
            the workers with cloudpickle, so a lambda or local function works too.
        *args: its positional arguments.
        **kwargs: its keyword arguments.

    Raises:
        TypeError: *func* is not callable.

    >>> list(GeneratorIterDataset(range, 5))
    [0, 1, 2, 3, 4]
    """

    def __init__(self, func: Callable[..., Iterable[Any]], *args: Any, **kwargs: Any) -> None:
        given: object = func  # checked at run time too: users pass what they have
        if not callable(given):
            msg = (
                f"GeneratorIterDataset expected a generator function, got {short_repr(given)} "
                f"(type={type(given).__name__})"
            )
            raise TypeError(msg)
        super().__init__()
        self._make = functools.partial(func, *args, **kwargs)
        self._slice: slice | None = None

    def set_slice(self, sl: slice, sequential_slice: bool = False) -> None:
        """Called by Grain in worker ``sl.start`` of ``sl.step``: keep that share."""
        self._slice = sl

    def _info(self) -> WorkerInfo | None:
        sl = self._slice
        if sl is None or not sl.step or sl.step <= 1:
            return current_worker_info()
        wid = int(sl.start or 0)
        return WorkerInfo(
            id=wid, num_workers=int(sl.step), seed=derive_seed(0, 0, wid), kind="process"
        )

    def __iter__(self) -> _GeneratorIterator:
        return _GeneratorIterator(self._make, self._info())

    def __str__(self) -> str:
        return f"GeneratorIterDataset({describe_call(self._make.func)})"


class _GeneratorIterator(_grain_dataset.DatasetIterator):  # type: ignore[misc]
    """Runs the generator with the worker's identity visible to shard() and worker_info()."""

    def __init__(self, make: Callable[[], Iterable[Any]], info: WorkerInfo | None) -> None:
        super().__init__()
        self._make_fn = make
        self._worker = info
        self._position = 0
        self._it: Iterator[Any] | None = None

    def _source(self) -> Iterator[Any]:
        if self._it is None:
            with use_worker_info(self._worker):
                self._it = auto_shard(self._make_fn, self._worker)
        return self._it

    def __next__(self) -> Any:
        it = self._source()
        with use_worker_info(self._worker):
            item = next(it)
        self._position += 1
        return item

    def get_state(self) -> dict[str, Any]:
        """Grain checkpoints: how many items this iterator has yielded."""
        return {"position": self._position}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restart the generator and skip to the checkpointed position."""
        self._it = None
        self._position = 0
        target = int(state.get("position", 0))
        it = self._source()
        with use_worker_info(self._worker):
            for _ in range(target):
                next(it)
        self._position = target
