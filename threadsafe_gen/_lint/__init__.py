"""The static linter behind ``threadsafe-gen lint``: ``ast`` only, never imports user code.

Each rule maps to one registered ``TSGx5y`` code in :data:`threadsafe_gen._registry.REGISTRY`
and lives in one module of :mod:`threadsafe_gen._lint.rules`. Names are resolved through
each module's imports (``from keras.utils import Sequence as S``, ``import tensorflow as tf;
tf.keras.utils.Sequence``, ``tf_keras.utils.Sequence``), and class hierarchies are followed
across the files linted together, so a subclass of a project's own base dataset in another
file is still a dataset. Jupyter notebooks are linted as the module their code cells form,
with findings mapped back to (cell, line).

How a file flows: discovery.py finds it (or reports what cannot be listed); analyse.py
reads it (reading.py: regular files only, size-capped), parses it and runs the rules
(rules/), which see it through context.py and return draft findings (facts.py); resolve.py
then selects across all files (options.py's codes, per-file ignores, the class index of
classes.py, suppressions.py's comments) and renders only what is kept (result.py). Whatever
a file holds, it costs at most one TSG852 for that file: the run goes on.
"""

from __future__ import annotations

from .discovery import DEFAULT_EXCLUDE
from .engine import lint_paths, lint_source
from .options import LintOptions, select_codes
from .result import LintReport, LintResult
from .suppressions import Suppression

__all__ = [
    "DEFAULT_EXCLUDE",
    "LintOptions",
    "LintReport",
    "LintResult",
    "Suppression",
    "lint_paths",
    "lint_source",
    "select_codes",
]
