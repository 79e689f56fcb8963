"""What a lint is asked to do: :class:`LintOptions`, and code selectors (:func:`select_codes`)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .._registry import REGISTRY, Category
from .reading import DEFAULT_MAX_FILE_SIZE

__all__ = ["ALWAYS_SELECTED", "LintOptions", "enabled_codes", "select_codes"]

# NOTE [ TSG852 and selection ]
# TSG852 says a file was not linted at all (unreadable, not Python, not a notebook). A
# narrower `--select` (say `--select TSG3`) chooses which problems to look for, not which
# files to look at, so it never hides TSG852: a run that skipped a file must not read as
# clean. Naming it in `--ignore` (or `ignore =` in the config, a per-file ignore, or an
# inline `# threadsafe-gen: ignore[TSG852]`) does hide it, as for any other code. Past the
# code selection it goes through the same filter as every other finding.

#: Codes reported whatever `select` says, unless ignored (see NOTE [ TSG852 and selection ]).
ALWAYS_SELECTED = frozenset({"TSG852"})


def _lint_checks() -> list[str]:
    return [c.code for c in REGISTRY.values() if c.kind == "lint"]


def _expand(selectors: Iterable[str], what: str) -> set[str]:
    """The lint codes *selectors* name; *what* (select, ignore) names them in errors."""
    lint_codes = [c for c in REGISTRY.values() if c.kind == "lint"]
    out: set[str] = set()
    for raw in selectors:
        sel = raw.strip()
        if not sel:
            continue
        hit = {
            c.code
            for c in lint_codes
            if sel.upper() == "ALL"
            or c.code.startswith(sel.upper())
            or sel.lower() in (c.name, c.category.value)
        }
        if not hit:
            known = ", ".join(c.code for c in lint_codes)
            msg = (
                f"{what} {sel!r} matches no lint code. Use a code or prefix ({known}), "
                f"a category ({', '.join(c.value for c in Category)}) or a check name."
            )
            raise ValueError(msg)
        out |= hit
    return out


def select_codes(
    select: Iterable[str] | None = None, ignore: Iterable[str] | None = None
) -> frozenset[str]:
    """Return the lint codes enabled by *select* and *ignore* selectors.

    A selector is a code (``TSG351``), a code prefix (``TSG3``), a category
    (``thread-safety``), a check name (``next-without-lock``) or ``ALL``.

    Raises:
        ValueError: a selector matches no lint code.
    """
    chosen = _expand(select, "select") if select else set(_lint_checks())
    if ignore:
        chosen -= _expand(ignore, "ignore")
    return frozenset(chosen)


def enabled_codes(
    select: Iterable[str] | None = None, ignore: Iterable[str] | None = None
) -> frozenset[str]:
    """The codes a lint reports: :func:`select_codes`, plus TSG852 unless it is ignored."""
    ignored = _expand(ignore, "ignore") if ignore else set()
    return select_codes(select, ignore) | (ALWAYS_SELECTED - ignored)


def _strings(value: object, name: str) -> tuple[str, ...]:
    """*value* as a tuple of strings; a lone string is one item (``ignore="TSG151"``)."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable):
        msg = f"LintOptions expected {name} to be a list of strings, got {type(value).__name__}"
        raise TypeError(msg)
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            msg = f"LintOptions expected {name} to hold strings, got {item!r} (type={type(item).__name__})"
            raise TypeError(msg)
    return items


def _positive(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"LintOptions expected {name} to be an int, got {value!r}"
        raise TypeError(msg)
    if value < 1:
        msg = f"{name} must be >= 1, got {value!r}"
        raise ValueError(msg)


@dataclasses.dataclass(frozen=True)
class LintOptions:
    """Everything :func:`lint_paths` can be told, checked once when it is built.

    Use it to build a lint configuration once (from a config file, then command-line flags
    merged with :func:`dataclasses.replace`) and pass it to :func:`lint_paths` or
    :func:`lint_source`.

    Attributes:
        select: codes, prefixes (``TSG3``), categories, check names or ``ALL`` to report
            (default, or empty: every lint code). TSG852 is always reported unless ignored.
        ignore: the same kinds of selector, left out of the report. Like ``check_loader``'s
            ``ignore=``, it names finding codes (and, here, prefixes, categories or names).
        per_file_ignores: ``{glob: [selector, ...]}``; globs match the path relative to
            *root* (``tests/*.py``, ``**/legacy/*``).
        exclude: globs of files or folders to skip while expanding folders.
        report_unused_ignores: add a TSG653 finding for every suppression comment that
            suppressed nothing.
        root: the folder paths are reported relative to (default: the current directory).
        jobs: worker processes for big trees (default: up to the CPU count, and 1 for fewer
            than 64 files).
        max_file_size: files larger than this many bytes are reported (TSG852), not read
            (default 10 MiB).

    Raises:
        TypeError: a field has the wrong type.
        ValueError: a selector matches no lint code, or *jobs* or *max_file_size* is below 1.

    >>> opts = LintOptions(select=["TSG3"], ignore=["TSG353"])
    >>> sorted(opts.codes)
    ['TSG351', 'TSG352', 'TSG852']
    """

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    report_unused_ignores: bool = False
    root: Path | None = None
    jobs: int | None = None
    max_file_size: int = DEFAULT_MAX_FILE_SIZE

    def __post_init__(self) -> None:
        put = object.__setattr__  # normalising the fields of a frozen dataclass
        if self.select is not None:
            put(self, "select", _strings(self.select, "select"))
        put(self, "ignore", () if self.ignore is None else _strings(self.ignore, "ignore"))
        put(self, "exclude", _strings(self.exclude, "exclude"))
        pfi: object = self.per_file_ignores
        if not isinstance(pfi, Mapping):
            msg = f"LintOptions expected per_file_ignores to be a mapping of glob to codes, got {type(pfi).__name__}"
            raise TypeError(msg)
        put(
            self,
            "per_file_ignores",
            {str(g): _strings(v, f"per_file_ignores[{g!r}]") for g, v in pfi.items()},
        )
        report: object = self.report_unused_ignores
        if not isinstance(report, bool):
            msg = f"LintOptions expected report_unused_ignores to be True or False, got {report!r}"
            raise TypeError(msg)
        if self.root is not None:
            put(self, "root", Path(os.fspath(self.root)))
        if self.jobs is not None:
            _positive(self.jobs, "jobs")
        _positive(self.max_file_size, "max_file_size")
        # Selectors are checked now, not in the middle of a run.
        enabled_codes(self.select, self.ignore)
        for sels in self.per_file_ignores.values():
            select_codes(sels)

    @property
    def codes(self) -> frozenset[str]:
        """The codes this lint reports (before per-file ignores and suppressions)."""
        return enabled_codes(self.select, self.ignore)

    @property
    def file_ignores(self) -> dict[str, frozenset[str]]:
        """``per_file_ignores`` with each list of selectors expanded to codes."""
        return {glob: select_codes(sels) for glob, sels in self.per_file_ignores.items()}
