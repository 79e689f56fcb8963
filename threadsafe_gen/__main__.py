"""``python -m threadsafe_gen``: the same command line as ``threadsafe-gen``."""

from __future__ import annotations

import os
import sys


def _current_folder_off_path() -> None:
    """Take the current folder off the front of ``sys.path``, where ``python -m`` puts it.

    ``threadsafe-gen lint .`` runs on untrusted checkouts: a repository file named like a
    module the command imports (``argparse.py``) would otherwise be imported, that is run.
    The console script never has the folder there. It stays when this package itself comes
    from the current folder (a source checkout): worker processes import it from there.
    """
    if not sys.path or getattr(sys.flags, "safe_path", False):  # -P / PYTHONSAFEPATH
        return
    cwd = os.path.realpath(os.getcwd())
    first = sys.path[0]
    package_parent = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    if (first == "" or os.path.realpath(first) == cwd) and package_parent != cwd:
        del sys.path[0]


_current_folder_off_path()

from ._cli import main  # noqa: E402  (after the path is safe: _cli imports argparse, ...)

if __name__ == "__main__":
    sys.exit(main())
