"""Shared Hypothesis strategies for the test suite (add yours here, keep them bounded)."""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["item_lists", "thread_counts", "worker_counts"]

#: Finite lists of items with duplicates allowed (small ints collide often), 0..300 long.
item_lists = st.lists(st.integers(min_value=-5, max_value=50), min_size=0, max_size=300)

#: How many consumer threads share one iterator.
thread_counts = st.integers(min_value=1, max_value=8)

#: How many workers (threads) an engine runs.
worker_counts = st.integers(min_value=1, max_value=6)
