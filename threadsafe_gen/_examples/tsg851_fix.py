"""The fix of tsg851.py: clean of TSG851."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import Loader, build_model, x

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---


def main():
    model = build_model()
    model.fit(Loader(x, workers=4, use_multiprocessing=True), epochs=3)


if __name__ == "__main__":
    main()
