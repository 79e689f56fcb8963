"""Entry points of the worker processes that ``check_loader()`` starts.

They live at module scope in a light module because a ``spawn`` or ``forkserver`` child finds
its target by qualified name and imports it before anything else runs (the same rule that
applies to a user's loader). Nothing here imports TensorFlow; numpy is
imported only when a batch contains arrays.

A worker talks to the parent through one write-only :class:`multiprocessing.connection.Connection`
with small tuples, so the parent always knows which index a worker is computing when it
hangs or dies:

``("ready", seconds_to_load, pid)``, then per call ``("begin", pos, index)`` followed by
``("ok", pos, index, fingerprint, seconds)`` or ``("error", pos, index, exc_info)``, and
finally ``("done",)``. A loader that cannot be unpickled sends ``("load-error", exc_info)``.

Every child watches the checking process (:func:`watch_parent`, from ``_watchdog``): when it
dies, even by SIGKILL, the child exits instead of staying stuck in a loader call for ever.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import time
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from .._text import type_name
from .._watchdog import watch_parent

__all__ = [
    "ERROR_CHARS",
    "TRACEBACK_CHARS",
    "Payload",
    "cut",
    "exc_info",
    "fingerprint",
    "watch_parent",
    "worker_main",
]

#: How deep fingerprint() follows nested tuples/lists/dicts before it gives up.
_MAX_DEPTH = 16
#: An exception message is cut to this many characters, a traceback to this many: a loader
#: may raise a message of a million characters on every call.
ERROR_CHARS = 2_000
TRACEBACK_CHARS = 8_000


def cut(text: str, limit: int) -> str:
    """*text* (newlines kept) cut to *limit* characters, ``...`` marking a cut."""
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


class Payload:
    """A loader that crosses to a spawned child as bytes and is unpickled by the child itself.

    Passing the loader straight to ``Process(args=...)`` would make an unpickling failure
    (a class the child cannot import) kill the child inside multiprocessing's bootstrap, with
    the traceback only on stderr. Wrapping it lets :func:`worker_main` unpickle it inside a
    ``try`` and send the error back.
    """

    __slots__ = ("data", "obj")

    def __init__(self, obj: Any = None, data: bytes | None = None) -> None:
        self.obj = obj
        self.data = data

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        # NOTE [ Same transport as Keras ]
        # This runs inside Process.start(), while multiprocessing's spawning popen is set,
        # so ForkingPickler reduces sockets and other fds exactly as Keras' worker pool
        # would (by duplicating the fd into the child, docs/failure-modes.md row 2b'''). A plain
        # pickle.dumps here would refuse sockets that the real transport accepts.
        data = bytes(ForkingPickler.dumps(self.obj))
        return (_payload_from_bytes, (data,))

    def load(self) -> Any:
        """Return the loader: unpickle the bytes in the child, or the object under fork."""
        if self.data is None:
            return self.obj
        return pickle.loads(self.data)


def _payload_from_bytes(data: bytes) -> Payload:
    return Payload(data=data)


def exc_info(exc: BaseException) -> dict[str, str]:
    """Type, message and traceback text of *exc*, as plain strings that always pickle (cut)."""
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not break the worker
        message = "<str() failed>"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "type": type_name(exc),
        "message": cut(message, ERROR_CHARS),
        "traceback": cut(tb, TRACEBACK_CHARS),
    }


def fingerprint(batch: Any) -> str:
    """A short digest of a batch's content: dtype, shape and bytes of every array in it.

    Equal digests mean equal data; the digest never depends on object identity or memory
    addresses, so results from different processes can be compared.
    """
    h = hashlib.blake2b(digest_size=16)
    _feed(h, batch, 0)
    return h.hexdigest()


def _feed(h: Any, obj: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        h.update(b"<deep>")
        return
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
        return
    if isinstance(obj, (tuple, list)):
        h.update(f"{type(obj).__name__}[{len(obj)}](".encode())
        for item in obj:
            _feed(h, item, depth + 1)
        h.update(b")")
        return
    if isinstance(obj, dict):
        h.update(f"dict[{len(obj)}](".encode())
        for key in sorted(obj, key=repr):
            h.update(f"{key!r}=".encode())
            _feed(h, obj[key], depth + 1)
        h.update(b")")
        return
    array = _as_array(obj)
    if array is not None:
        h.update(f"array:{array.dtype.str}:{array.shape}:".encode())
        if array.dtype.hasobject:
            for item in array.reshape(-1).tolist():
                _feed(h, item, depth + 1)
        else:
            h.update(array.tobytes())
        return
    try:
        h.update(pickle.dumps(obj, protocol=4))
    except Exception:  # an exotic object: its type is all we can compare
        h.update(f"<{type(obj).__module__}.{type(obj).__qualname__}>".encode())


def _as_array(obj: Any) -> Any:
    """numpy view of arrays, numpy scalars and tensors (``.numpy()``), else None."""
    if "numpy" not in sys.modules and not hasattr(obj, "__array__"):
        return None
    import numpy as np

    if isinstance(obj, (np.ndarray, np.generic)):
        return np.ascontiguousarray(obj)
    to_numpy = getattr(obj, "numpy", None)
    if callable(to_numpy):  # TensorFlow eager tensors and similar
        try:
            return np.ascontiguousarray(to_numpy())
        except Exception:
            return None
    if hasattr(obj, "__array__"):
        try:
            return np.ascontiguousarray(np.asarray(obj))
        except Exception:
            return None
    return None


def worker_main(
    conn: Connection,
    payload: Payload,
    calls: list[int] | int,
    make_iterator: Any = None,
    parent_pid: int | None = None,
) -> None:
    """Run the loader in this worker process and report every step to the parent.

    Args:
        conn: write end of the pipe to the parent.
        payload: the loader (unpickled here under spawn/forkserver, as is under fork).
        calls: batch indices to compute in order (a repeated index is computed again), or
            a number of items to draw with ``next()`` from ``make_iterator()`` (or from the
            loader itself when it is an iterator) for generator loaders.
        make_iterator: factory of a fresh iterator, for generator loaders under fork.
        parent_pid: the checking process; this worker exits when it dies.
    """
    if parent_pid is not None:
        watch_parent(parent_pid)
    t0 = time.perf_counter()
    try:
        loader = payload.load()
    except Exception as exc:
        conn.send(("load-error", exc_info(exc)))
        conn.close()
        return
    conn.send(("ready", time.perf_counter() - t0, os.getpid()))
    if isinstance(calls, int):
        _draw(conn, loader, calls, make_iterator)
    else:
        for pos, index in enumerate(calls):
            conn.send(("begin", pos, index))
            t = time.perf_counter()
            try:
                digest = fingerprint(loader[index])
            except Exception as exc:
                conn.send(("error", pos, index, exc_info(exc)))
                continue
            conn.send(("ok", pos, index, digest, time.perf_counter() - t))
    conn.send(("done",))
    conn.close()


def _draw(conn: Connection, loader: Any, count: int, make_iterator: Any) -> None:
    try:
        it: Iterator[Any] = make_iterator() if make_iterator is not None else iter(loader)
    except Exception as exc:
        conn.send(("error", 0, 0, exc_info(exc)))
        return
    for pos in range(count):
        conn.send(("begin", pos, pos))
        t = time.perf_counter()
        try:
            digest = fingerprint(next(it))
        except StopIteration:
            return
        except Exception as exc:
            conn.send(("error", pos, pos, exc_info(exc)))
            return
        conn.send(("ok", pos, pos, digest, time.perf_counter() - t))
