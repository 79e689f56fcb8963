"""Exceptions and warnings raised by threadsafe_gen.

Every class has one root, :class:`ThreadsafeGenError`, and also subclasses the builtin
a user would naturally catch (``except TypeError`` still works for a pickling refusal).
None of them subclasses :class:`AttributeError`: proxies raise from ``__getattr__`` and
``hasattr`` would swallow such an error silently.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CopiedIteratorError",
    "LoaderCheckError",
    "PicklingRefusedError",
    "ShardingError",
    "SharedArrayClosedError",
    "SharedStateError",
    "ThreadsafeGenError",
    "ThreadsafeGenWarning",
    "WorkerError",
]


class ThreadsafeGenError(Exception):
    """Root of every exception raised by threadsafe_gen."""


class PicklingRefusedError(ThreadsafeGenError, TypeError):
    """An object refused to be pickled because a copy would be wrong, not merely hard.

    Raised for a started generator (a copy would restart it and duplicate data) and for a
    lock proxy that is held at pickling time. It is a :class:`TypeError`, like the error
    the standard pickler raises for objects it cannot pickle.
    """


class CopiedIteratorError(ThreadsafeGenError, RuntimeError):
    """A started iterator was copied into another process and refuses to continue there.

    Raised by ``next()``/``send()``/``throw()`` on a :class:`~threadsafe_gen.threadsafe_iter`
    (or a started ``@threadsafe_generator`` call) in a process that got a copy of it: a
    forked child (tf_keras ``fit(..., use_multiprocessing=True)`` under fork), or a
    spawn/forkserver child that received it while starting. Each process would otherwise
    continue its own copy and deliver every item once per process, silently. The error is
    raised in the child, on use, rather than while pickling, so that it travels back through
    the framework's normal result path (tf_keras hangs when the pickling itself fails). Plain
    ``pickle.dumps`` outside a process start still raises :class:`PicklingRefusedError`.
    """


class LoaderCheckError(ThreadsafeGenError, AssertionError):
    """``LoaderReport.raise_for_errors()`` found error-severity findings.

    It is an :class:`AssertionError` so that a pytest test can simply call
    ``check_loader(loader).raise_for_errors()`` and get the readable report as the failure.
    The report is available as ``.report``.
    """

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class WorkerError(ThreadsafeGenError, RuntimeError):
    """A worker started by threadsafe_gen failed: it raised, died, or did not answer in time.

    The message names the worker id, and the original exception (when there is one) is
    chained as ``__cause__``.
    """


class ThreadsafeGenWarning(ThreadsafeGenError, UserWarning):
    """Base class of the warnings threadsafe_gen emits (rarely: risks are findings)."""


class SharedArrayClosedError(ThreadsafeGenError, ValueError):
    """A :class:`~threadsafe_gen.SharedArray` was used after its shared memory was freed.

    Raised when a closed array is read or pickled, and when a worker unpickles a handle whose
    owner has already closed it or exited. It is a :class:`ValueError`, like the error for an
    operation on a closed file.
    """


class SharedStateError(ThreadsafeGenError, RuntimeError):
    """``__getitem__`` of a guarded dataset wrote to the dataset (debug mode only).

    Raised by :func:`threadsafe_gen.keras.guard` with ``debug=True`` (or
    ``THREADSAFE_GEN_DEBUG=1``) when ``__getitem__`` assigns to or deletes one of the dataset's
    attributes: with worker threads the write races, with worker processes it is lost.
    """


class ShardingError(ThreadsafeGenError, RuntimeError):
    """A generator would be split between workers twice, losing items.

    Raised in a worker when a ``@threadsafe_generator`` body that was being sharded
    automatically calls :func:`threadsafe_gen.shard` after producing its first item (only
    calls before the first item mark a body as self-sharded).
    """


class ConfigError(ThreadsafeGenError, ValueError):
    """``[tool.threadsafe_gen]`` in pyproject.toml has an unknown key or a wrong value.

    The message names the file, the key, what was expected and, for a misspelt key, the
    closest valid one. The CLI turns it into a usage error (exit code 2).
    """
