"""Which files a lint reads: folders walked, exclusions, and the paths findings show.

What cannot even be looked at (a named path we may not stat, a folder we may not list) is
reported as a TSG852 draft, never silently skipped and never a traceback.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from .facts import Draft
from .rules import files

__all__ = ["DEFAULT_EXCLUDE", "display", "expand", "jobs_for", "module_name"]

#: Directory names never entered while expanding a folder (explicit paths are always linted).
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    "node_modules",
    "build",
    "dist",
    "site-packages",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)
#: Below this many files one process is faster than starting workers.
_PARALLEL_FROM = 64
_MAX_DEFAULT_JOBS = 8


def jobs_for(jobs: int | None, n_files: int) -> int:
    """Worker processes for *n_files*: *jobs* when given, else by the file count and CPUs."""
    if jobs is not None:
        return jobs
    if n_files < _PARALLEL_FROM:
        return 1
    return max(1, min(os.cpu_count() or 1, _MAX_DEFAULT_JOBS))


def _exists(path: Path) -> bool:
    """True unless nothing is at *path* (a dangling or looping link, or a denied one, is there)."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def expand(
    paths: Sequence[str | os.PathLike[str]], exclude: tuple[str, ...], root: Path
) -> tuple[list[Path], list[Draft]]:
    """The files to lint (named files as they are, folders walked; each file once), and a
    TSG852 draft for each named path or folder that could not be looked at.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    seen: set[str] = set()
    found: list[Path] = []
    problems: list[Draft] = []
    for raw in paths:
        p = Path(raw)
        try:
            is_dir = stat.S_ISDIR(os.stat(p).st_mode)
        except OSError as exc:
            if not _exists(p):
                msg = (
                    f"path {os.fspath(raw)!r} does not exist; pass Python files or folders to lint"
                )
                raise FileNotFoundError(msg) from None
            problems.append(files.unreadable(display(p, root), exc))
            continue
        # A named file that is not regular (a FIFO...) is reported when it is read.
        for c in _walk(p, exclude, root, problems) if is_dir else [p]:
            key = os.path.realpath(c)
            if key not in seen:
                seen.add(key)
                found.append(c)
    return found, problems


def _walk(
    folder: Path, exclude: tuple[str, ...], root: Path, problems: list[Draft]
) -> Iterator[Path]:
    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else folder
        problems.append(files.unreadable_folder(display(where, root), exc))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in DEFAULT_EXCLUDE
            and not _excluded(Path(dirpath, d), exclude, root)
        )
        for name in sorted(filenames):
            if name.endswith((".py", ".ipynb")):
                path = Path(dirpath, name)
                if not _excluded(path, exclude, root):
                    yield path


def _excluded(path: Path, exclude: tuple[str, ...], root: Path) -> bool:
    if not exclude:
        return False
    rel = display(path, root)
    return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(path.name, g) for g in exclude)


def display(path: Path, root: Path) -> str:
    """*path* as findings show it: relative to *root* with ``/``, else absolute.

    Folders on the way are resolved (as *root* is); the last name is kept, so a symlink is
    shown as the link a repository holds, not as its target (``evil.py``, not ``/dev/zero``).
    """
    head, name = os.path.split(os.path.abspath(path))
    full = Path(os.path.realpath(head), name)
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        return full.as_posix()


def module_name(path: str | Path) -> str:
    """Dotted module name from the package folders around *path* (``__init__.py`` walk)."""
    full = Path(os.path.realpath(path))
    parts = [] if full.name == "__init__.py" else [full.stem]
    parent = full.parent
    while os.path.exists(parent / "__init__.py") and parent.parent != parent:
        parts.append(parent.name)
        parent = parent.parent
    return ".".join(reversed(parts)) or full.stem
