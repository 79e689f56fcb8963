"""The fix of tsg852.txt: clean of TSG852."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
def load(i):
    return i
