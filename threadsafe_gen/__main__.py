"""``python -m threadsafe_gen``: the same command line as ``threadsafe-gen``."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
