"""The fix of tsg801.py: clean of TSG801."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import decode

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import socket

import keras


class Remote(keras.utils.PyDataset):
    def __getitem__(self, i):
        with socket.create_connection(("feature-store", 7000), timeout=10) as s:
            s.sendall(b"%d\n" % i)
            return decode(s.recv(1 << 20))  # raises TimeoutError instead of hanging
