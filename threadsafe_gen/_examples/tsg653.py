"""Triggers TSG653 (unused-suppression): a `# threadsafe-gen: ignore` comment suppresses nothing."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
def load(i):
    return i * 2  # threadsafe-gen: ignore[TSG351]
