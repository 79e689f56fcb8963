"""Triggers TSG102 (loader-not-importable): workers cannot import the loader's class or function."""


# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
def make_loader(data):
    class Rows:  # defined inside a function: spawned workers cannot import it
        def __len__(self):
            return len(data)

        def __getitem__(self, i):
            return data[i]

    return Rows()
