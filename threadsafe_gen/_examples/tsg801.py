"""Triggers TSG801 (batch-timeout): a batch did not return within the time limit."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import decode

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import socket

import keras


class Remote(keras.utils.PyDataset):
    def __getitem__(self, i):
        with socket.create_connection(("feature-store", 7000)) as s:
            s.sendall(b"%d\n" % i)
            return decode(s.recv(1 << 20))  # no timeout: waits forever if the server stalls
