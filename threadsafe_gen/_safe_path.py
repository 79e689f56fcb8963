"""Keep ``python -m threadsafe_gen`` from importing a linted repository's own files.

``python -m`` puts the current folder first on ``sys.path`` while it imports the package, so
a checkout's ``ast.py`` or ``json.py`` would be imported, that is run, by the linter that
inspects it (``threadsafe-gen lint`` runs on untrusted pull requests). The console script
never has the folder there. This module imports nothing but ``os`` and ``sys``, which the
interpreter has loaded before any folder on the path is searched.
"""

from __future__ import annotations

import os
import sys

__all__ = ["current_folder_off_path", "running_as_main_module"]


def running_as_main_module() -> bool:
    """Whether this interpreter was started as ``python -m threadsafe_gen``."""
    argv = list(getattr(sys, "orig_argv", []))
    for i, arg in enumerate(argv[1:], start=1):
        if arg == "-m":
            return argv[i + 1 : i + 2] == ["threadsafe_gen"]
        if arg == "-mthreadsafe_gen":
            return True
        if arg == "-c" or not arg.startswith("-"):  # a script or -c ends the options
            return False
    return False


def current_folder_off_path() -> None:
    """Take the current folder off the front of ``sys.path``, where ``python -m`` puts it.

    It stays when this package itself comes from the current folder (a source checkout):
    worker processes import it from there. ``-P`` / ``PYTHONSAFEPATH`` already leave it off.
    """
    if not sys.path or getattr(sys.flags, "safe_path", False):
        return
    cwd = os.path.realpath(os.getcwd())
    first = sys.path[0]
    package_parent = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    if (first == "" or os.path.realpath(first) == cwd) and package_parent != cwd:
        del sys.path[0]
