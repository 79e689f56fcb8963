"""Which files a lint reads: folders walked, exclusions, and the paths findings show."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

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


def expand(
    paths: Sequence[str | os.PathLike[str]], exclude: tuple[str, ...], root: Path
) -> Iterator[Path]:
    """The files to lint: named files as they are, folders walked; each file once.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            msg = f"path {os.fspath(raw)!r} does not exist; pass Python files or folders to lint"
            raise FileNotFoundError(msg)
        if p.is_file():
            candidates: Iterable[Path] = [p]
        else:
            candidates = _walk(p, exclude, root)
        for c in candidates:
            key = c.resolve()
            if key not in seen:
                seen.add(key)
                yield c


def _walk(folder: Path, exclude: tuple[str, ...], root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
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
    """*path* as findings show it: relative to *root* with ``/``, else absolute."""
    full = path.resolve()
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        return full.as_posix()


def module_name(path: Path) -> str:
    """Dotted module name from the package folders around *path* (``__init__.py`` walk)."""
    full = path.resolve()
    parts = [] if full.name == "__init__.py" else [full.stem]
    parent = full.parent
    while (parent / "__init__.py").exists() and parent.parent != parent:
        parts.append(parent.name)
        parent = parent.parent
    return ".".join(reversed(parts)) or full.stem
