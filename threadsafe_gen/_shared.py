"""SharedArray: a numpy array in shared memory that pickles as a handle.

Process workers started with ``spawn`` or ``forkserver`` (and Keras 3, which starts a new pool
every epoch) receive the loader by pickling. A numpy array on the loader is copied into every
worker, every epoch: 10-12 s per epoch for 128 MiB in the failure-mode catalog (row 2.0b).
A :class:`SharedArray` pickles as ``(name, shape, dtype)``, so a worker maps the same pages
instead of receiving a copy.
"""

# NOTE [ Who frees a segment ]
# A POSIX shared-memory segment outlives every process until someone calls shm_unlink().
# Only the process that created it (the owner, recorded by pid) ever unlinks it:
#   * close() / the context manager / garbage collection (weakref.finalize) / interpreter exit
#     (weakref.finalize runs at exit) -- the normal paths;
#   * a tiny "reaper" process per owner, started on the first SharedArray. The owner keeps the
#     only write end of a pipe to it and tells it each name it creates or frees. When the owner
#     dies -- even by SIGKILL -- the kernel closes that pipe, the reaper reads EOF and unlinks
#     what is left. The write end is close-on-exec and is closed in forked children, so a
#     worker that outlives the owner does not keep the segment alive;
#   * as a last resort, each new owner sweeps /dev/shm for segments whose owner it can prove
#     dead (e.g. the reaper itself was killed): see NOTE [ Proving an owner dead ].
# We do not use multiprocessing's resource_tracker: before Python 3.13 every process that
# *attaches* a SharedMemory registers it too, so a worker with its own tracker unlinks the
# owner's segment when it exits (bpo-39959), and two workers sharing the owner's tracker print
# KeyError tracebacks when they unregister. Attaching here never registers anything.

# NOTE [ Proving an owner dead ]
# /dev/shm may be shared by processes of several PID namespaces (containers sharing an IPC
# namespace, `docker run --ipc=host`): a pid recorded by another namespace means nothing here,
# and "no such process" does not prove its owner dead. So on Linux a segment is named
# ``tsg_<pid>_<start>_<ns>_<token>``: the owner's pid, its start time (field 22 of
# /proc/<pid>/stat, clock ticks since boot) and the inode of its PID namespace
# (/proc/self/ns/pid). The sweep unlinks a segment only when its namespace is ours and the pid
# there is gone or belongs to a process started at another time (the pid was reused). A
# segment from another namespace, or with no identity (no usable /proc: the name is then
# ``tsg_<pid>_<token>``), is never swept; its own reaper frees it. A namespace inode can be
# reused once that namespace is gone, but by then its processes are gone too, and a pid here
# with the same start time is all but impossible, so reuse never makes us unlink a live one.

# NOTE [ Read-only in workers ]
# A process that is not the owner maps the segment with PROT_READ, so writing through any view
# raises instead of silently racing with the owner. A forked child inherits the owner's
# writable mapping; `.array` hands it a read-only view instead (checked by pid).

from __future__ import annotations

import atexit
import contextlib
import errno
import mmap
import os
import secrets
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from ._locks import Lock
from .errors import SharedArrayClosedError

try:  # POSIX; on Windows the kernel frees a named mapping with its last handle.
    import _posixshmem  # type: ignore[import-not-found]  # CPython's own, no stubs
except ImportError:  # pragma: no cover - Windows
    _posixshmem = None

__all__ = ["SharedArray"]

_PREFIX = "tsg_"
_SHM_DIR = "/dev/shm"

# The reaper: reads "+name" / "-name" lines; at EOF (its owner is gone, however it went)
# unlinks every name still registered. Self-contained so it starts in ~20 ms.
_REAPER_SOURCE = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    from _posixshmem import shm_unlink
except ImportError:
    def shm_unlink(name):
        os.unlink("/dev/shm/" + name.lstrip("/"))
names = set()
for line in sys.stdin.buffer:
    op, name = line[:1], line[1:].strip().decode()
    if op == b"+":
        names.add(name)
    elif op == b"-":
        names.discard(name)
for name in names:
    try:
        shm_unlink(name)
    except OSError:
        pass
"""

# Our fork-safe Lock, not threading.Lock: Keras forks from a helper thread while another thread
# may be creating or closing an array, and a raw lock held at that moment would stay held for
# ever in the child, hanging its first SharedArray() (docs/failure-modes.md row 2a').
_lock = Lock()
_reaper_fd: int | None = None
_reaper_pid: int | None = None
_reaper_owner: int | None = None  # pid of the process that started it
# Arrays this process owns or has attached, by segment name: unpickling a handle in a process
# that already has the segment returns that object instead of mapping it again.
_live: weakref.WeakValueDictionary[str, SharedArray] = weakref.WeakValueDictionary()


def _start_time(pid: int | str) -> str | None:
    """Start time of process `pid` in this PID namespace (clock ticks since boot), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # Field 22; the command name (field 2) may hold spaces and parentheses.
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _namespace_id() -> str | None:
    """This process's PID namespace, as the inode of /proc/self/ns/pid; None if unknown.

    None too when /proc belongs to another PID namespace (/proc/self is then not our pid),
    because start times read there would describe other processes.
    """
    try:
        if os.readlink("/proc/self") != str(os.getpid()):
            return None
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return None


_identity_cache: tuple[int, str | None] | None = None


def _identity() -> str | None:
    """``<start>_<ns>`` for this process (see NOTE [ Proving an owner dead ]), or None."""
    global _identity_cache
    pid = os.getpid()
    if _identity_cache is None or _identity_cache[0] != pid:  # a forked child is another owner
        namespace, start = _namespace_id(), _start_time("self")
        _identity_cache = (
            pid,
            None if namespace is None or start is None else f"{start}_{namespace}",
        )
    return _identity_cache[1]


def _new_name(pid: int) -> str:
    identity = _identity()
    middle = "" if identity is None else f"{identity}_"
    return f"/{_PREFIX}{pid}_{middle}{secrets.token_hex(6)}"


def _owner_dead(entry: str, namespace: str) -> bool:
    """Whether segment `entry` provably belongs to a process of our namespace that is gone."""
    fields = entry[len(_PREFIX) :].split("_")
    if len(fields) != 4 or not all(f.isdigit() for f in fields[:3]):
        return False  # no identity (or not ours to judge): never proven dead
    pid, start, owner_namespace = fields[:3]
    if owner_namespace != namespace:
        return False  # another namespace's pid: says nothing about a process here
    current = _start_time(pid)
    if current is not None:
        return current != start  # alive, or its pid was reused by a later process
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def _sweep_orphans() -> None:
    """Unlink the segments whose owner is provably gone (NOTE [ Proving an owner dead ])."""
    namespace = _namespace_id()
    if _posixshmem is None or namespace is None or not os.path.isdir(_SHM_DIR):
        return
    try:
        entries = os.listdir(_SHM_DIR)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(_PREFIX) and _owner_dead(entry, namespace):
            with contextlib.suppress(OSError):
                _posixshmem.shm_unlink("/" + entry)


def _reaper_send(line: str) -> None:
    """Tell this process's reaper about a name (starting it first if needed). Holds `_lock`."""
    global _reaper_fd, _reaper_pid, _reaper_owner
    if _posixshmem is None:
        return
    if _reaper_fd is None or _reaper_owner != os.getpid():
        _sweep_orphans()
        read_end, write_end = os.pipe()  # both close-on-exec
        try:
            _reaper_pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", "-c", _REAPER_SOURCE],
                dict(os.environ),
                file_actions=[(os.POSIX_SPAWN_DUP2, read_end, 0)],
                # Its own session: a Ctrl-C or killpg aimed at the training job must not
                # kill the cleaner before it has cleaned.
                setsid=True,
            )
        finally:
            os.close(read_end)
        _reaper_fd, _reaper_owner = write_end, os.getpid()
    with contextlib.suppress(OSError):
        os.write(_reaper_fd, f"{line}\n".encode())


def _stop_reaper() -> None:
    """At exit: close the pipe so the reaper finishes, and reap it (no zombie, no orphan)."""
    global _reaper_fd, _reaper_pid
    with _lock:
        fd, pid = _reaper_fd, _reaper_pid
        _reaper_fd = _reaper_pid = None
    if fd is None or pid is None or _reaper_owner != os.getpid():
        return
    os.close(fd)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _after_fork_in_child() -> None:
    global _reaper_fd, _reaper_pid, _reaper_owner
    # The child must not hold the parent's pipe open (the reaper would never see EOF), and a
    # SharedArray created in the child gets the child's own reaper.
    if _reaper_fd is not None:
        with contextlib.suppress(OSError):
            os.close(_reaper_fd)
    _reaper_fd = _reaper_pid = _reaper_owner = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
# Registered before any weakref.finalize exists, so (atexit being LIFO) the finalizers of
# live arrays run first and the reaper is stopped last.
atexit.register(_stop_reaper)


class _Segment:
    """The mapping and, for the owner, the right to unlink. Kept apart from SharedArray so
    that the finalizer can hold it without keeping the SharedArray alive."""

    __slots__ = ("buffer", "handle", "name", "owner_pid")

    def __init__(self, name: str, buffer: mmap.mmap | memoryview, handle: Any, owner_pid: int):
        self.name = name
        self.buffer = buffer
        self.handle = handle  # multiprocessing SharedMemory on Windows, else None
        self.owner_pid = owner_pid


def _release(segment: _Segment) -> None:
    """Unlink (owner only) and unmap. Safe to call twice and from a forked child."""
    if segment.owner_pid == os.getpid():
        if _posixshmem is not None:
            with contextlib.suppress(FileNotFoundError):
                _posixshmem.shm_unlink(segment.name)
            with _lock:
                # Only tell a running reaper; never start one (or restart it at exit) for this.
                if _reaper_fd is not None and _reaper_owner == os.getpid():
                    _reaper_send(f"-{segment.name}")
        elif segment.handle is not None:  # pragma: no cover - Windows
            with contextlib.suppress(FileNotFoundError):
                segment.handle.unlink()
    # Views the user still holds keep the mapping alive (BufferError); the memory is returned
    # when the last of them goes. The name is already gone, so nothing can leak.
    with contextlib.suppress(BufferError, ValueError):
        if isinstance(segment.buffer, mmap.mmap):
            segment.buffer.close()
        elif segment.handle is not None:  # pragma: no cover - Windows
            segment.handle.close()


def _attach(name: str, shape: tuple[int, ...], dtype: str, owner_pid: int) -> SharedArray:
    """Unpickle a handle: reuse this process's object for the segment, or map it read-only."""
    with _lock:
        existing = _live.get(name)
    if existing is not None and not existing.closed:
        return existing
    return SharedArray._from_handle(name, shape, np.dtype(dtype), owner_pid)


class SharedArray:
    """A numpy array in shared memory that pickles as a handle, for process workers.

    Use it for large read-mostly data (images, embeddings, lookup tables) that a loader's
    process workers read: a worker started with ``spawn`` or ``forkserver`` maps the same
    memory instead of receiving a pickled copy every epoch, and a forked worker shares it
    without copy-on-write surprises. The creating process (the *owner*) may write; every other
    process gets a read-only view. The segment is freed when the owner closes it, drops it,
    exits, or crashes (see the module notes): nothing is left in ``/dev/shm``.

    Keep the ``SharedArray`` itself on your loader (``self.images = sa``), not ``sa.array``:
    a plain ndarray attribute would be pickled by value again. The memory is allocated (and
    zeroed) when the array is created, so a ``/dev/shm`` that is too small is an ``OSError``
    here rather than a ``SIGBUS`` crash at some later write.

    Args:
        shape: shape of the new array, e.g. ``(1000, 32, 32, 3)`` or an int.
        dtype: numpy dtype (anything ``numpy.dtype()`` accepts); default float64.
            Object dtypes are refused: they hold pointers, not data.

    Raises:
        TypeError: ``dtype`` is an object dtype or ``shape`` is not a shape.
        ValueError: a negative dimension.
        OSError: not enough shared memory for the array (the message gives the sizes).

    Example:
        >>> import pickle
        >>> import numpy as np
        >>> from threadsafe_gen import SharedArray
        >>> with SharedArray.from_array(np.arange(6).reshape(2, 3)) as sa:
        ...     sa[0, 0] = 10                      # the owner may write
        ...     handle = pickle.dumps(sa)          # a handle, not the data
        ...     print(len(handle) < 300, np.asarray(sa)[0].tolist(), sa.shape)
        True [10, 1, 2] (2, 3)
    """

    __slots__ = (
        "__weakref__",
        "_array",
        "_dtype",
        "_finalizer",
        "_owner_pid",
        "_readonly",
        "_segment",
        "_shape",
    )

    _segment: _Segment | None
    _shape: tuple[int, ...]
    _dtype: np.dtype[Any]
    _array: npt.NDArray[Any]
    _readonly: npt.NDArray[Any]
    _owner_pid: int
    _finalizer: weakref.finalize[Any, Any] | None

    def __init__(self, shape: int | tuple[int, ...], dtype: npt.DTypeLike = np.float64) -> None:
        shape_t = _check_shape(shape)
        dt = np.dtype(dtype)
        if dt.hasobject:
            msg = (
                f"SharedArray() cannot hold dtype={dt!r}: object arrays store pointers into one "
                "process's heap, which other processes cannot read. Use a numeric, bool, "
                "fixed-width string or structured dtype."
            )
            raise TypeError(msg)
        nbytes = int(np.prod(shape_t, dtype=np.int64)) * dt.itemsize
        pid = os.getpid()
        size = max(nbytes, 1)  # a zero-length mapping is not allowed
        if _posixshmem is not None:
            name = _new_name(pid)
            fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
            try:
                with _lock:
                    # Register before anything can fail, so a crash from here on is cleaned.
                    _reaper_send(f"+{name}")
                os.ftruncate(fd, size)
                _reserve(fd, size, shape_t, dt)
                buffer: mmap.mmap | memoryview = mmap.mmap(fd, size)
            except BaseException:
                with contextlib.suppress(OSError):
                    _posixshmem.shm_unlink(name)
                with _lock:
                    _reaper_send(f"-{name}")
                raise
            finally:
                os.close(fd)
            handle = None
        else:  # pragma: no cover - Windows
            from multiprocessing import shared_memory

            handle = shared_memory.SharedMemory(create=True, size=size)
            name = handle.name
            assert handle.buf is not None
            buffer = handle.buf
        segment = _Segment(name, buffer, handle, pid)
        array: npt.NDArray[Any] = np.frombuffer(buffer, dtype=dt, count=nbytes // dt.itemsize)
        self._setup(segment, array.reshape(shape_t), pid)

    def _setup(self, segment: _Segment, array: npt.NDArray[Any], owner_pid: int) -> None:
        self._segment = segment
        self._shape = tuple(array.shape)
        self._dtype = array.dtype
        self._array = array
        self._readonly = array.view()
        self._readonly.flags.writeable = False
        self._owner_pid = owner_pid
        self._finalizer = weakref.finalize(self, _release, segment)
        with _lock:
            _live[segment.name] = self

    @classmethod
    def _from_handle(
        cls, name: str, shape: tuple[int, ...], dtype: np.dtype[Any], owner_pid: int
    ) -> SharedArray:
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        try:
            if _posixshmem is not None:
                fd = _posixshmem.shm_open(name, os.O_RDONLY, mode=0o600)
                try:
                    size = os.fstat(fd).st_size
                    buffer: mmap.mmap | memoryview = mmap.mmap(fd, size, prot=mmap.PROT_READ)
                finally:
                    os.close(fd)
                handle = None
            else:  # pragma: no cover - Windows
                from multiprocessing import shared_memory

                handle = shared_memory.SharedMemory(name=name)
                assert handle.buf is not None
                buffer = handle.buf
        except FileNotFoundError:
            msg = (
                f"SharedArray segment {name!r} (shape={shape}, dtype={dtype}) no longer exists: "
                f"its owner (pid {owner_pid}) closed it or exited before this process attached. "
                "Keep the SharedArray open in the training process until the workers are done "
                "(e.g. hold it on the loader and close it after fit())."
            )
            raise SharedArrayClosedError(msg) from None
        self = cls.__new__(cls)
        array: npt.NDArray[Any] = np.frombuffer(buffer, dtype=dtype, count=nbytes // dtype.itemsize)
        # The attaching process does not own the segment: it never unlinks it.
        self._setup(_Segment(name, buffer, handle, owner_pid), array.reshape(shape), owner_pid)
        return self

    @classmethod
    def from_array(cls, array: npt.ArrayLike) -> SharedArray:
        """Copy an existing array into a new SharedArray.

        Args:
            array: anything ``numpy.asarray()`` accepts (not object dtype).

        Returns:
            A new SharedArray owned by this process, with the same shape, dtype and values.

        Example:
            >>> import numpy as np
            >>> from threadsafe_gen import SharedArray
            >>> sa = SharedArray.from_array(np.ones((2, 2), dtype=np.float32))
            >>> float(sa.array.sum()), sa.dtype
            (4.0, dtype('float32'))
            >>> sa.close()
        """
        source = np.asarray(array)
        shared = cls(source.shape, source.dtype)
        shared._array[...] = source
        return shared

    # ----------------------------------------------------------------- numpy interop
    @property
    def array(self) -> npt.NDArray[Any]:
        """The data as a numpy array: writable in the owner, read-only in every other process."""
        if self._segment is None:
            msg = (
                f"{self!r} is closed: its shared memory was freed by close(). Read the data "
                "before closing it, or keep it open while workers run."
            )
            raise SharedArrayClosedError(msg)
        return self._array if os.getpid() == self._owner_pid else self._readonly

    def __array__(
        self, dtype: npt.DTypeLike | None = None, copy: bool | None = None
    ) -> npt.NDArray[Any]:
        array = self.array
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __getitem__(self, key: Any) -> Any:
        return self.array[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        if os.getpid() != self._owner_pid:
            msg = (
                f"cannot write to {self!r} from pid {os.getpid()}: only its owner (pid "
                f"{self._owner_pid}) may write, because workers writing to shared data race "
                "with each other. Return new arrays from __getitem__ instead."
            )
            raise ValueError(msg)
        self.array[key] = value

    def __len__(self) -> int:
        return len(self.array)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.array)

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self._shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """The array's dtype."""
        return self._dtype

    @property
    def nbytes(self) -> int:
        """Size of the data in bytes (what a pickled copy would cost per worker)."""
        return int(np.prod(self._shape, dtype=np.int64)) * self._dtype.itemsize

    @property
    def name(self) -> str:
        """The shared-memory segment's name (for diagnostics; ``/dev/shm/<name>`` on Linux)."""
        return "" if self._segment is None else self._segment.name.lstrip("/")

    @property
    def is_owner(self) -> bool:
        """True in the process that created the array (the only one that may write or free it)."""
        return os.getpid() == self._owner_pid

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._segment is None

    # ----------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Free the shared memory now (owner) or unmap it (other processes). Idempotent.

        In the owner this unlinks the segment: workers that have already attached keep their
        mapping, new attaches fail with a clear error. Views you still hold stay valid until
        they are garbage collected.
        """
        finalizer, self._finalizer = self._finalizer, None
        self._segment = None
        # Drop our own views first so that the mapping can actually be unmapped.
        self._array = self._readonly = _CLOSED
        if finalizer is not None:
            finalizer()

    def __enter__(self) -> SharedArray:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, tuple[str, tuple[int, ...], str, int]]:
        if self._segment is None:
            msg = (
                f"cannot pickle {self!r}: it is closed, so a worker would have nothing to "
                "attach to. Close it only after the workers are done."
            )
            raise SharedArrayClosedError(msg)
        return (_attach, (self._segment.name, self.shape, self.dtype.str, self._owner_pid))

    def __repr__(self) -> str:
        state = "closed" if self._segment is None else self.name
        role = "owner" if self.is_owner else f"attached, owner pid {self._owner_pid}"
        return f"SharedArray(shape={self.shape}, dtype={self.dtype}, {state}, {role})"


def _reserve(fd: int, size: int, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """Allocate the segment's memory now, so that a full /dev/shm is a clear error here.

    Without this, ftruncate() always succeeds and the process dies of SIGBUS later, at the
    first write to a page /dev/shm has no room for (Docker's default /dev/shm is 64 MiB).
    """
    if not hasattr(os, "posix_fallocate"):  # macOS: no tmpfs size limit to hit
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.ENOMEM):
            return  # EINVAL/EOPNOTSUPP: the filesystem cannot preallocate; nothing to check
        free = ""
        with contextlib.suppress(OSError):
            st = os.statvfs(_SHM_DIR)
            free = f" ({st.f_bavail * st.f_frsize / 2**20:,.0f} MiB free of {st.f_blocks * st.f_frsize / 2**20:,.0f} MiB)"
        msg = (
            f"SharedArray(shape={shape}, dtype={dtype}) needs {size / 2**20:,.1f} MiB of shared "
            f"memory, but {_SHM_DIR} has not enough room{free}. Free segments you no longer need "
            "(close()), use a smaller array or a numpy memmap on disk, or give the machine more "
            "shared memory (Docker: `docker run --shm-size=4g ...`)."
        )
        raise OSError(exc.errno, msg) from None


_CLOSED: npt.NDArray[Any] = np.empty(0)
_CLOSED.flags.writeable = False


def _check_shape(shape: object) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        dims: tuple[Any, ...] = (shape,)
    elif isinstance(shape, tuple | list):
        dims = tuple(shape)
    else:
        msg = f"SharedArray() expected a shape (an int or a tuple of ints), got {shape!r} (type={type(shape).__name__})"
        raise TypeError(msg)
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in dims):
        msg = f"SharedArray() expected a shape of ints, got {shape!r}"
        raise TypeError(msg)
    if any(d < 0 for d in dims):
        msg = f"SharedArray() got a negative dimension in shape={shape!r}"
        raise ValueError(msg)
    return tuple(int(d) for d in dims)
