"""threadsafe_gen: make data loaders safe for workers>1, and find the problems before training.

Wrappers make generators, Sequences and Keras 3 PyDatasets safe for worker threads and
processes; ``check_loader()`` runs a bounded dry run that reports pickling, fork-safety,
thread-safety, duplicate-data, randomness, coverage, structure, performance, resource,
hang and crash problems; ``threadsafe-gen lint`` finds them statically.

TensorFlow and Keras are never imported by ``import threadsafe_gen``; the adapters live in
``threadsafe_gen.keras`` and import them lazily.
"""

from __future__ import annotations

from ._safe_path import current_folder_off_path, running_as_main_module

if running_as_main_module():  # before anything below imports ast, json, argparse, ...
    current_folder_off_path()

import importlib

from . import errors
from ._assertions import assert_loader_safe
from ._check import check_loader
from ._finding import Finding
from ._hosts import HostInfo, host_info, set_hosts
from ._iterators import threadsafe_generator, threadsafe_iter
from ._lint import lint_paths, lint_source
from ._lint.result import LintReport, LintResult
from ._locks import BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore
from ._random import rng_for, set_seed
from ._registry import REGISTRY, Category, Severity
from ._report import LoaderReport
from ._resources import PerProcess, PerThread, per_process, per_thread
from ._sharding import WorkerInfo, shard, worker_info
from ._shared import SharedArray
from ._version import __version__

# Submodules with optional dependencies, imported on first attribute access so that
# `tsg.keras.guard` works after a plain `import threadsafe_gen as tsg` while the import
# itself stays light (threadsafe_gen.keras loads TensorFlow only when an adapter is built).
_LAZY_SUBMODULES = frozenset({"keras", "testing"})


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    # The lazy submodules are attributes too (tab completion, help(), dir()), loaded or not.
    return sorted({*globals(), *_LAZY_SUBMODULES})


__all__ = [
    "BoundedSemaphore",
    "Category",
    "Condition",
    "Event",
    "Finding",
    "HostInfo",
    "LintReport",
    "LintResult",
    "LoaderReport",
    "Lock",
    "PerProcess",
    "PerThread",
    "REGISTRY",
    "RLock",
    "Semaphore",
    "Severity",
    "SharedArray",
    "WorkerInfo",
    "__version__",
    "assert_loader_safe",
    "check_loader",
    "errors",
    "host_info",
    "lint_paths",
    "lint_source",
    "per_process",
    "per_thread",
    "rng_for",
    "set_hosts",
    "set_seed",
    "shard",
    "threadsafe_generator",
    "threadsafe_iter",
    "worker_info",
]
