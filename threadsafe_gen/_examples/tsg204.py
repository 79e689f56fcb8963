"""Triggers TSG204 (multithreaded-fork): the process is multi-threaded when workers fork."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import MyDataset, model

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
# TensorFlow has started threads by the time fit() forks its workers
model.fit(MyDataset(workers=4, use_multiprocessing=True))  # fork: Linux, Python <= 3.13
