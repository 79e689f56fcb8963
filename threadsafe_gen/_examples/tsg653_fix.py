"""The fix of tsg653.py: clean of TSG653."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
def load(i):
    return i * 2
