"""Triggers TSG652 (deprecated-generator-api): deprecated fit_generator/evaluate_generator/predict_generator."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader's own helpers, which the example calls
    from ._assumed import gen, model

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
model.fit_generator(gen(), steps_per_epoch=100, epochs=3)
