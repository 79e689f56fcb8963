"""Triggers TSG821 (worker-died): a worker process died."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import load

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import os

import keras


class Rows(keras.utils.PyDataset):
    def __getitem__(self, i):
        if i >= len(self.index):
            os._exit(1)  # kills the worker; Keras waits for its batch forever
        return load(self.index[i])
