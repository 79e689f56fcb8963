"""The ``threadsafe-gen`` command line (also ``python -m threadsafe_gen``).

``lint`` reads files statically; ``check`` imports a loader and runs ``check_loader()`` on it
(in a child process: :mod:`threadsafe_gen._cli_check`). Both print
``--format text|json|sarif|github`` and exit 0 (nothing at or above ``--fail-on``), 1
(findings) or 2 (usage or internal error).

Options are said once: the flags of ``lint`` and ``check`` are the fields of
:class:`~threadsafe_gen._lint.LintOptions` and :class:`~threadsafe_gen._check.CheckOptions`
(``--field-name``, typed by the field), and the flags given are merged over the options the
config file built (:meth:`~threadsafe_gen._config.Config.lint_options`) with
:func:`dataclasses.replace`, which checks them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from ._check import DEFAULT_MAX_BATCHES, CheckOptions
from ._cli_check import check_target
from ._config import Config, Kind, load_config, option_kinds
from ._finding import Finding
from ._lint import lint_paths, lint_source
from ._lint.options import LintOptions
from ._output import FORMATS, RunInfo, exit_code, github_step_summary, render, use_color
from ._registry import REGISTRY, Severity
from ._target import UsageError, did_you_mean, resolve_target
from ._version import __version__
from .errors import ConfigError

__all__ = ["UsageError", "build_parser", "main", "resolve_target"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

_EPILOG = """\
exit codes:
  0  no finding at or above --fail-on (default: error)
  1  at least one finding at or above --fail-on
  2  usage error (bad arguments, target or config) or internal error

Settings come from [tool.threadsafe_gen] in the nearest pyproject.toml; flags override them.
Every finding code is explained in docs/checks.md (e.g. docs/checks.md#tsg351).
"""

_Options = TypeVar("_Options", LintOptions, CheckOptions)


def _prog() -> str:
    return "threadsafe-gen"


def _comma_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        msg = f"expected a positive integer, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return n


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        x = 0.0
    if not x > 0:
        msg = f"expected a positive number of seconds, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return x


# --- options as flags ---------------------------------------------------------------------

#: Options fields that are not flags: the root is the config file's folder, globs and
#: per-file ignores belong in that file, and probes are Python objects.
_NOT_FLAGS = frozenset({"root", "exclude", "per_file_ignores", "probes"})

#: How the value of a flag is read, by the kind of its field.
_PARSE: Mapping[Kind, Callable[[str], Any]] = {
    "int": _positive_int,
    "float": _positive_float,
    "str": str,
    "strs": _comma_list,
}

#: Flags that add to the configured values instead of replacing them (a project's ignore
#: list stays ignored when a run ignores one more code).
_EXTENDS = frozenset({"ignore"})

#: (metavar, help) of the flag of each LintOptions / CheckOptions field.
_LINT_FLAGS: Mapping[str, tuple[str | None, str]] = {
    "select": (
        "CODES",
        "comma-separated codes, prefixes (TSG3), categories or check names to report",
    ),
    "ignore": ("CODES", "comma-separated codes, prefixes, categories or check names to leave out"),
    "report_unused_ignores": (
        None,
        "report `# threadsafe-gen: ignore` comments that suppress nothing (TSG653)",
    ),
    "jobs": ("N", "worker processes for big trees (default: CPU count for 64+ files)"),
    "max_file_size": (
        "BYTES",
        "files larger than this are reported (TSG852), not read (default: 10 MiB)",
    ),
}
_CHECK_FLAGS: Mapping[str, tuple[str | None, str]] = {
    "workers": ("N", "planned number of workers (default: the loader's own, else 1)"),
    "use_multiprocessing": (None, "plan for worker processes instead of threads"),
    "start_method": ("M", "fork, spawn or forkserver (default: multiprocessing's)"),
    "max_batches": ("N", f"batches per pass (default: {DEFAULT_MAX_BATCHES})"),
    "timeout": (
        "S",
        f"time budget in seconds, for importing TARGET and then for the check (default: "
        f"{CheckOptions().timeout:g})",
    ),
    "batch_timeout": ("S", "limit per call in seconds (default: min(10, timeout / 4))"),
    "ignore": ("CODES", "comma-separated finding codes to leave out"),
}


def flag_fields(cls: type[Any]) -> dict[str, Kind]:
    """The fields of the options dataclass *cls* that are command-line flags, by kind."""
    return {n: k for n, k in option_kinds(cls).items() if n not in _NOT_FLAGS}


def _add_flags(
    parser: argparse.ArgumentParser, cls: type[Any], helps: Mapping[str, tuple[str | None, str]]
) -> None:
    """A ``--field-name`` flag for each flag field of *cls*; none is set unless given."""
    for name, kind in flag_fields(cls).items():
        metavar, text = helps[name]
        flag = "--" + name.replace("_", "-")
        if kind == "bool":
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=text
            )
        else:
            parser.add_argument(flag, type=_PARSE[kind], default=None, metavar=metavar, help=text)


def _merge_flags(args: argparse.Namespace, configured: _Options) -> _Options:
    """*configured* (defaults, then the config file) with the flags given merged over it."""
    given: dict[str, Any] = {}
    names: list[str] = list(flag_fields(type(configured)))
    for name in names:
        value: Any = getattr(args, name, None)
        if value is not None and name in _EXTENDS:
            value = tuple(getattr(configured, name)) + tuple(value)
        if value is not None:
            given[name] = value
    try:
        return dataclasses.replace(configured, **given)
    except (TypeError, ValueError) as exc:  # the options dataclass checks every field
        raise UsageError(str(exc)) from exc


# --- the parser ---------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    """The flags of both lint and check that are about the run, not the options."""
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="output format: text for people; json and sarif are stable; github prints "
        "workflow annotations (default: text)",
    )
    p.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        default=None,
        help="lowest severity that makes the exit code 1 (default: error)",
    )
    p.add_argument(
        "--config",
        metavar="PYPROJECT",
        default=None,
        help="read [tool.threadsafe_gen] from this file instead of searching upwards",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default=None,
        help="write the report to FILE instead of standard output",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``threadsafe-gen`` (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description="Find what breaks Python data loaders with workers>1, statically (lint) "
        "or by a bounded dry run (check).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{lint,check,rules,explain}")
    sub.required = True
    lint = sub.add_parser(
        "lint",
        help="lint Python files and folders statically (never imports them)",
        description="Lint Python files and folders statically: nothing is imported or run.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lint.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders (default: .); - reads stdin"
    )
    lint.add_argument(
        "--stdin-filename",
        default=None,
        metavar="NAME",
        help="the file name to report for source read from stdin (with PATH -)",
    )
    _add_flags(lint, LintOptions, _LINT_FLAGS)
    _common(lint)
    check = sub.add_parser(
        "check",
        help="import a loader and dry-run it with check_loader()",
        description="Import TARGET (MODULE:NAME or path/to/file.py:NAME; a loader, or a "
        "zero-argument callable returning one) and run threadsafe_gen.check_loader() on it.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("target", metavar="TARGET", help="MODULE:NAME or path/to/file.py:NAME")
    _add_flags(check, CheckOptions, _CHECK_FLAGS)
    _common(check)
    rules = sub.add_parser(
        "rules",
        help="list every finding code (lint and check)",
        description="List every finding code with its kind, severity, category and title.",
    )
    rules.add_argument("--format", choices=("text", "json"), default="text")
    explain = sub.add_parser(
        "explain",
        help="explain finding codes: why they matter, how to fix them, examples",
        description="Explain finding codes: what, why it matters, how to fix it, and examples.",
    )
    explain.add_argument("codes", nargs="+", metavar="CODE", help="e.g. TSG351")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``threadsafe-gen`` with *argv* (default: ``sys.argv[1:]``); return the exit code.

    >>> main(["--version"])  # doctest: +SKIP
    threadsafe-gen 0.1.0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "rules":
            return _rules(args)
        if args.command == "explain":
            return _explain(args)
        config = load_config(args.config)
        if args.command == "lint":
            return _lint(args, config)
        return _check(args, config)
    except (UsageError, ConfigError) as exc:
        print(f"{_prog()}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`threadsafe-gen rules | head`): stop quietly, and keep
        # Python from reporting the flush failure at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{_prog()}: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # an internal error: say so, with the traceback, and exit 2
        print(
            f"{_prog()}: internal error (please report it with the traceback below):",
            file=sys.stderr,
        )
        traceback.print_exc()
        return EXIT_USAGE


# --- lint and check -----------------------------------------------------------------------


def _report(
    args: argparse.Namespace, findings: Sequence[Finding], info: RunInfo, fail_on: str
) -> int:
    """Print *findings* as ``--format`` asks (and the GitHub job summary); the exit code."""
    color = args.output is None and use_color(sys.stdout)
    _emit(render(findings, info, args.format, color=color), args.output, sys.stdout)
    _github_summary(args.format, findings, info)
    return exit_code(findings, fail_on)


def _github_summary(fmt: str, findings: Sequence[Finding], info: RunInfo) -> None:
    """With --format github inside GitHub Actions, also write the full job summary table."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt != "github" or not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(github_step_summary(findings, info))
    except OSError as exc:  # the annotations are already printed; say why the table is not
        print(f"{_prog()}: cannot write GITHUB_STEP_SUMMARY ({exc})", file=sys.stderr)


def _emit(text: str, output: str | None, stream: TextIO) -> None:
    if output is None:
        stream.write(text + "\n")
        stream.flush()
        return
    try:
        Path(output).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        msg = f"cannot write --output {output!r}: {exc.strerror or exc}"
        raise UsageError(msg) from exc


def _lint(args: argparse.Namespace, config: Config) -> int:
    options = _merge_flags(args, config.lint_options())
    paths = args.paths or ["."]
    try:
        if paths == ["-"]:  # source from standard input (editors, pipes)
            name = args.stdin_filename or "<stdin>"
            result = lint_source(sys.stdin.buffer.read(), name, options)
        else:
            result = lint_paths(paths, options)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    info = dataclasses.replace(result.run_info(), root=str(config.root))
    return _report(args, result.findings, info, args.fail_on or config.fail_on or "error")


def _check(args: argparse.Namespace, config: Config) -> int:
    start = time.perf_counter()
    options = _merge_flags(args, config.check_options())
    run = check_target(args.target, options)
    target_file = None
    if run.module_file is not None:
        full = Path(run.module_file).resolve()
        try:
            target_file = full.relative_to(config.root).as_posix()
        except ValueError:
            target_file = full.as_posix()
    info = dataclasses.replace(
        run.report.run_info(),
        seconds=time.perf_counter() - start,
        target_file=target_file,
        root=str(config.root),
    )
    fail_on = args.fail_on or config.check_fail_on or config.fail_on or "error"
    return _report(args, run.report.findings, info, fail_on)


# --- rules and explain ---------------------------------------------------------------------


def _rules(args: argparse.Namespace) -> int:
    checks = list(REGISTRY.values())
    if args.format == "json":
        rows = [
            {
                "code": c.code,
                "name": c.name,
                "kind": c.kind,
                "severity": c.severity.value,
                "category": c.category.value,
                "title": c.title,
                "docs": c.anchor,
            }
            for c in checks
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for c in checks:
        print(f"{c.code}  {c.kind:<5}  {c.severity.value:<7}  {c.category.value:<14}  {c.title}")
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    blocks: list[str] = []
    for raw in args.codes:
        code = raw.strip().upper()
        check = REGISTRY.get(code) or next(
            (c for c in REGISTRY.values() if c.name == raw.strip().lower()), None
        )
        if check is None:
            msg = f"unknown finding code {raw!r}.{did_you_mean(code, list(REGISTRY))} List them with `threadsafe-gen rules`."
            raise UsageError(msg)
        lines = [
            f"{check.code} {check.name} ({check.kind}, {check.severity.value}, {check.category.value})",
            f"  {check.title}",
            "",
            f"Why it matters: {check.why}",
            f"Fix: {check.fix}",
        ]
        if check.example:
            lines += ["", "Example:", *("    " + ln for ln in check.example.rstrip().splitlines())]
        if check.fixed:
            lines += ["", "Fixed:", *("    " + ln for ln in check.fixed.rstrip().splitlines())]
        suppress = (
            f'# threadsafe-gen: ignore[{check.code}] on the line, or ignore = ["{check.code}"] '
            "in [tool.threadsafe_gen]"
            if check.kind == "lint"
            else f'check_loader(..., ignore=["{check.code}"]) or --ignore {check.code}'
        )
        lines += ["", f"Suppress: {suppress}", f"Docs: {check.anchor}"]
        blocks.append("\n".join(lines))
    print("\n\n".join(blocks))
    return EXIT_OK
