"""Reading one file safely: regular files only, and never more than a size cap.

The linter runs on untrusted checkouts. A FIFO named ``x.py`` would block ``open()`` for
ever, and a symlink to ``/dev/zero`` would be read until memory runs out; both are reported
instead of read (TSG852), as is a file above the cap.
"""

from __future__ import annotations

import os
import stat

from .facts import Draft
from .rules import files

__all__ = ["DEFAULT_MAX_FILE_SIZE", "read_source"]

#: Generated modules reach a few MiB (6 MiB in the Google Cloud SDK); parsing 10 MiB of
#: Python takes about 2 s.
DEFAULT_MAX_FILE_SIZE = 10 * 2**20
# O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
# O_NOCTTY: a terminal device never becomes our controlling terminal.
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_FLAGS |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a special file"


def read_source(path: str, shown: str, limit: int = DEFAULT_MAX_FILE_SIZE) -> bytes | Draft:
    """The bytes of the regular file *path*, or the TSG852 draft saying why it was not read.

    The file is opened without blocking and checked on the open descriptor (no race with a
    swapped path), then read up to *limit* bytes: a file that grows past the cap while it
    is read is reported too.
    """
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        return files.unreadable(shown, exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return files.not_regular(shown, _kind(st.st_mode))
        if st.st_size > limit:
            return files.too_large(shown, st.st_size, limit)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return files.too_large(shown, size, limit)
        return b"".join(chunks)
    except OSError as exc:
        return files.unreadable(shown, exc)
    finally:
        os.close(fd)
