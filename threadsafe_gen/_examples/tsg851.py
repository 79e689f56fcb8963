"""Triggers TSG851 (processes-without-main-guard): process workers started without a __main__ guard."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import Loader, build_model, x

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
model = build_model()
model.fit(Loader(x, workers=4, use_multiprocessing=True), epochs=3)
