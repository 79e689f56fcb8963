"""``python -m threadsafe_gen``: the same command line as ``threadsafe-gen``."""

from __future__ import annotations

import sys

from ._safe_path import current_folder_off_path

current_folder_off_path()  # also done by __init__ when run with -m; cheap and idempotent

from ._cli import main  # noqa: E402  (after the path is safe: _cli imports argparse, ...)

if __name__ == "__main__":
    sys.exit(main())
