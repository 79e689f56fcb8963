"""pytest plugin (registered through the ``pytest11`` entry point).

Kept import-light: pytest loads it in every session of a project that installs
threadsafe_gen, so it must not import TensorFlow.
"""

from __future__ import annotations
