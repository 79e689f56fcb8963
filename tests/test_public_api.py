"""The public surface: one sorted __all__, and a light import."""

from __future__ import annotations

import subprocess
import sys

import threadsafe_gen


def test_all_is_sorted_and_importable() -> None:
    """__all__ is sorted and every name in it exists."""
    names = list(threadsafe_gen.__all__)
    assert sorted(names) == names
    for name in names:
        assert hasattr(threadsafe_gen, name), name


def test_import_does_not_load_tensorflow_or_keras() -> None:
    """`import threadsafe_gen` leaves TensorFlow and Keras unimported (checked in a fresh process)."""
    code = (
        "import sys, threadsafe_gen\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'tensorflow', 'keras', 'tf_keras', 'hypothesis', 'jax', 'torch'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == ""
