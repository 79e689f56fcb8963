"""Keras and tf.data adapters: a lock-free Sequence guard and parallel generators.

Use this module when you train with Keras 3 (``keras.utils.PyDataset``), tf_keras
(``tf_keras.utils.Sequence``) or ``tf.data`` and want ``workers>1`` to be both fast and
correct:

* :func:`guard` -- a class decorator for index-addressed datasets. No lock around
  ``__getitem__``; it reseeds ``random`` and numpy's global RNG in every worker process per
  epoch (Keras forks identical workers every epoch, which repeats "random" augmentations), and
  in debug mode it raises when ``__getitem__`` assigns to the dataset.
* :class:`GeneratorDataset` -- a ``@threadsafe_generator`` call (or generator function) as a
  Keras 3 ``PyDataset`` that runs N shards in parallel threads or processes, every item exactly
  once per epoch, every epoch complete.
* :func:`to_tf_dataset` -- the same shards as a ``tf.data.Dataset`` (an ``interleave`` of
  per-shard ``from_generator`` datasets, deterministic by default).
* :func:`legacy_fit_input` -- what to pass to tf_keras ``fit()`` instead of using its
  enqueuers (which duplicate generators across processes and stall 5 s every epoch).

Like Keras, the adapters take ``workers=`` and ``use_multiprocessing=`` (threads or
processes); ``processes=`` is a deprecated alias of ``use_multiprocessing=``.

TensorFlow, Keras and tf_keras are imported only when one of these objects is built, never by
``import threadsafe_gen`` nor by ``import threadsafe_gen.keras``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._generator_dataset import generator_dataset_class
from ._guard import DEBUG_ENV as DEBUG_ENV
from ._guard import current_epoch, guard
from ._legacy import legacy_fit_input
from ._tf_data import to_tf_dataset

# Module layout (one topic per module; the names in __all__ are the API):
#   _guard              guard(), current_epoch(): reseeding per worker process and epoch
#   _common             argument checks, the shard runner, epoch counting, signatures
#   _persistent         worker processes kept for the whole fit (the epoch gate)
#   _generator_dataset  GeneratorDataset (a Keras 3 PyDataset)
#   _tf_data            to_tf_dataset()
#   _legacy             legacy_fit_input() for tf_keras
# Every lock in this package is a threadsafe_gen._locks.Lock, re-created in a forked child: Keras
# forks its workers from a helper thread while other threads may hold one (tests/test_keras.py
# checks every module-level lock).

__all__ = ["GeneratorDataset", "current_epoch", "guard", "legacy_fit_input", "to_tf_dataset"]

if TYPE_CHECKING:
    from ._generator_dataset import GeneratorDatasetImpl as GeneratorDataset
else:

    def __getattr__(name: str) -> Any:
        # GeneratorDataset subclasses keras.utils.PyDataset; build it (and import Keras) only
        # when someone asks for it, so `import threadsafe_gen.keras` stays light.
        if name == "GeneratorDataset":
            return generator_dataset_class()
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)


def __dir__() -> list[str]:
    """The module's names, GeneratorDataset included (it is built on first access)."""
    return sorted({*globals(), *__all__})
