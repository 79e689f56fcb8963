"""Running a lint: over source text (:func:`lint_source`) or files and folders
(:func:`lint_paths`), in worker processes for big trees."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .analyse import analyse_path, analyse_source
from .discovery import display, expand, jobs_for
from .facts import FileFacts
from .options import LintOptions
from .resolve import resolve
from .result import LintReport

__all__ = ["lint_paths", "lint_source"]

#: The keyword form's defaults, which may be combined with an explicit ``options``.
_KEYWORD_DEFAULTS: Mapping[str, object] = {
    "select": None,
    "ignore": None,
    "per_file_ignores": None,
    "exclude": (),
    "report_unused_ignores": False,
    "root": None,
    "jobs": None,
}


def _options(options: object, func: str, **kwargs: object) -> LintOptions:
    """*options*, or the options the keyword arguments spell; not both."""
    given = sorted(k for k, v in kwargs.items() if v != _KEYWORD_DEFAULTS[k])
    if options is None:
        present = {k: v for k, v in kwargs.items() if v is not None}
        return LintOptions(**present)  # type: ignore[arg-type]
    if not isinstance(options, LintOptions):
        msg = f"{func}() expected options to be a LintOptions, got {type(options).__name__}"
        raise TypeError(msg)
    if given:
        msg = (
            f"{func}() got options= and also {', '.join(given)}=; put every setting in the "
            "LintOptions (dataclasses.replace(options, ...)) or pass keywords only"
        )
        raise TypeError(msg)
    return options


def lint_source(
    source: str | bytes,
    filename: str = "<string>",
    options: LintOptions | None = None,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    report_unused_ignores: bool = False,
) -> LintReport:
    """Lint one module's source text without importing or running it.

    Use it in tests, editors or notebooks; :func:`lint_paths` lints files and folders.

    Args:
        source: Python source code.
        filename: the name shown in findings.
        options: a :class:`LintOptions` (its ``per_file_ignores`` match *filename*; its
            ``exclude``, ``root`` and ``jobs`` do not apply); or use the keywords below.
        select: codes, prefixes, categories or check names to report (default: all).
        ignore: the same kinds of selector, removed from *select*.
        report_unused_ignores: also report suppression comments that suppress nothing.

    Returns:
        A :class:`LintReport`.

    Raises:
        ValueError: a selector matches no lint code.
        TypeError: *options* and keywords are both given.

    >>> src = '''
    ... import threading
    ... class It:
    ...     def __init__(self, it):
    ...         self.it, self.lock = it, threading.Lock()
    ...     def __next__(self):
    ...         return next(self.it)
    ... '''
    >>> sorted(lint_source(src).codes())
    ['TSG351']
    """
    opts = _options(
        options,
        "lint_source",
        select=select,
        ignore=ignore,
        report_unused_ignores=report_unused_ignores,
    )
    start = time.perf_counter()
    raw = source.encode() if isinstance(source, str) else source
    facts = analyse_source(raw, filename, filename, Path(filename).stem)
    result = resolve([facts], opts.codes, opts.report_unused_ignores, opts.file_ignores)
    result.files = 1
    result.seconds = time.perf_counter() - start
    return result


def lint_paths(
    paths: Sequence[str | os.PathLike[str]],
    options: LintOptions | None = None,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    per_file_ignores: Mapping[str, Iterable[str]] | None = None,
    exclude: Iterable[str] = (),
    report_unused_ignores: bool = False,
    root: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
) -> LintReport:
    """Lint Python files and folders statically (the engine of ``threadsafe-gen lint``).

    Nothing is imported or executed: files are parsed with :mod:`ast`. Folders are searched
    recursively for ``*.py`` and ``*.ipynb`` files, skipping hidden folders, virtual
    environments and build output (:data:`DEFAULT_EXCLUDE`); files named explicitly are
    always linted.

    Args:
        paths: files and folders.
        options: every setting below as one :class:`LintOptions`; or use the keywords.
        select: codes, prefixes (``TSG3``), categories or check names to report.
        ignore: the same kinds of selector, removed from *select* (codes, as
            ``check_loader(ignore=...)`` takes them, or prefixes, categories, names).
        per_file_ignores: ``{glob: [selector, ...]}``; globs match the path relative to
            *root* (``tests/*.py``, ``**/legacy/*``).
        exclude: extra globs of files or folders to skip while expanding folders.
        report_unused_ignores: add a TSG653 finding for every suppression comment that
            suppressed nothing.
        root: the folder paths are reported relative to (default: the current directory).
        jobs: worker processes for big trees (default: up to the CPU count, and 1 for fewer
            than 64 files).

    Returns:
        A :class:`LintReport`; files that cannot be linted give one TSG852 finding each
        (reported even when *select* leaves it out, unless *ignore* names it).

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a selector matches no lint code.
        TypeError: *options* and keywords are both given.

    >>> import pathlib, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = pathlib.Path(d, "train.py").write_text("model.fit_generator(gen(), epochs=2)\\n")
    >>> [f"{f.code}:{f.location.line}" for f in lint_paths([d]).findings]
    ['TSG652:1']
    """
    opts = _options(
        options,
        "lint_paths",
        select=select,
        ignore=ignore,
        per_file_ignores=per_file_ignores,
        exclude=exclude,
        report_unused_ignores=report_unused_ignores,
        root=root,
        jobs=jobs,
    )
    start = time.perf_counter()
    root_path = Path(os.path.realpath(opts.root if opts.root is not None else os.getcwd()))
    files, problems = expand(paths, opts.exclude, root_path)
    args = [(str(p), display(p, root_path), opts.max_file_size) for p in files]
    facts = _analyse_all(args, jobs_for(opts.jobs, len(files)))
    facts += [FileFacts(d.path, [], [d], []) for d in problems]
    result = resolve(facts, opts.codes, opts.report_unused_ignores, opts.file_ignores)
    result.files = len(files) + len(problems)
    result.seconds = time.perf_counter() - start
    return result


def _analyse_all(args: list[tuple[str, str, int]], jobs: int) -> list[FileFacts]:
    """Each file's facts, in *args* order; in *jobs* worker processes when above 1."""
    if jobs <= 1:
        return [analyse_path(a) for a in args]
    # Forking a multi-threaded process can deadlock the child (a lock held by another
    # thread is copied held): when called from such a process, start workers fresh.
    ctx = multiprocessing.get_context("spawn" if threading.active_count() > 1 else None)
    # Chunks keep inter-process traffic low; each task returns only small facts.
    chunk = max(1, len(args) // (jobs * 8))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        return list(pool.map(analyse_path, args, chunksize=chunk))
