"""The fix of tsg351.py: clean of TSG351."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import threadsafe_gen


def batches():
    yield from range(10)


it = threadsafe_gen.threadsafe_iter(batches())  # next() under a lock
