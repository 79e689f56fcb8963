"""The ``threadsafe-gen`` command line (also ``python -m threadsafe_gen``).

``lint`` reads files statically; ``check`` imports a loader and runs ``check_loader()``. Both
print ``--format text|json|sarif|github`` and exit 0 (nothing at or above ``--fail-on``), 1
(findings) or 2 (usage or internal error).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import inspect
import os
import pkgutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ._config import Config, load_config
from ._findings import Severity
from ._output import FORMATS, RunInfo, exit_code, render, use_color
from .errors import ConfigError

__all__ = ["main", "resolve_target"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

_EPILOG = """\
exit codes:
  0  no finding at or above --fail-on (default: error)
  1  at least one finding at or above --fail-on
  2  usage error (bad arguments, target or config) or internal error

Settings come from [tool.threadsafe_gen] in the nearest pyproject.toml; flags override them.
Every finding code is explained in docs/checks.md (e.g. docs/checks.md#tsg351).
"""


class UsageError(Exception):
    """A mistake in how the command was called: printed without a traceback, exit code 2."""


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


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``threadsafe-gen`` (exposed for docs and tests)."""
    from . import __version__

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

    def common(p: argparse.ArgumentParser) -> None:
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
    lint.add_argument(
        "--select",
        type=_comma_list,
        default=None,
        metavar="CODES",
        help="comma-separated codes, prefixes (TSG3), categories or check names to report",
    )
    lint.add_argument(
        "--ignore",
        type=_comma_list,
        default=None,
        metavar="CODES",
        help="comma-separated codes, prefixes, categories or check names to leave out",
    )
    lint.add_argument(
        "--report-unused-ignores",
        action="store_true",
        default=None,
        help="report `# threadsafe-gen: ignore` comments that suppress nothing (TSG653)",
    )
    lint.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="worker processes for big trees (default: CPU count for 64+ files)",
    )
    common(lint)

    check = sub.add_parser(
        "check",
        help="import a loader and dry-run it with check_loader()",
        description="Import TARGET (MODULE:NAME or path/to/file.py:NAME; a loader, or a "
        "zero-argument callable returning one) and run threadsafe_gen.check_loader() on it.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("target", metavar="TARGET", help="MODULE:NAME or path/to/file.py:NAME")
    check.add_argument("--workers", type=_positive_int, default=None, metavar="N")
    check.add_argument(
        "--use-multiprocessing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="plan for worker processes instead of threads",
    )
    check.add_argument(
        "--start-method", choices=("fork", "spawn", "forkserver"), default=None, metavar="M"
    )
    check.add_argument(
        "--timeout",
        type=_positive_float,
        default=None,
        metavar="S",
        help="total time budget in seconds (default: 60)",
    )
    check.add_argument("--batch-timeout", type=_positive_float, default=None, metavar="S")
    check.add_argument("--max-batches", type=_positive_int, default=None, metavar="N")
    check.add_argument(
        "--ignore",
        type=_comma_list,
        default=None,
        metavar="CODES",
        help="comma-separated finding codes to leave out",
    )
    common(check)

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


def _github_summary(fmt: str, findings: Sequence[Any], info: RunInfo) -> None:
    """With --format github inside GitHub Actions, also write the full job summary table."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt != "github" or not target:
        return
    from ._output import github_step_summary

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
    from ._lint import lint_paths

    paths = args.paths or ["."]
    select = args.select if args.select is not None else list(config.select)
    ignore = list(config.ignore) + list(args.ignore or [])
    report_unused = (
        args.report_unused_ignores
        if args.report_unused_ignores is not None
        else config.report_unused_ignores
    )
    fail_on = args.fail_on or config.fail_on or "error"
    if paths == ["-"]:
        return _lint_stdin(args, config, select, ignore, report_unused, fail_on)
    try:
        result = lint_paths(
            paths,
            select=select or None,
            ignore=ignore or None,
            per_file_ignores=dict(config.per_file_ignores),
            exclude=config.exclude,
            report_unused_ignores=report_unused,
            root=config.root,
            jobs=args.jobs,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    info = RunInfo("lint", files=result.files, seconds=result.seconds, root=str(config.root))
    color = args.output is None and use_color(sys.stdout)
    _emit(render(result.findings, info, args.format, color=color), args.output, sys.stdout)
    _github_summary(args.format, result.findings, info)
    return exit_code(result.findings, fail_on)


def _lint_stdin(
    args: argparse.Namespace,
    config: Config,
    select: list[str],
    ignore: list[str],
    report_unused: bool,
    fail_on: str,
) -> int:
    """``threadsafe-gen lint -``: lint source read from standard input (editors, pipes)."""
    import fnmatch

    from ._lint import lint_source

    name = args.stdin_filename or "<stdin>"
    for glob, codes in config.per_file_ignores.items():
        if fnmatch.fnmatch(name, glob):
            ignore = [*ignore, *codes]
    try:
        result = lint_source(
            sys.stdin.buffer.read(),
            name,
            select=select or None,
            ignore=ignore or None,
            report_unused_ignores=report_unused,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    info = RunInfo("lint", files=1, seconds=result.seconds, root=str(config.root))
    color = args.output is None and use_color(sys.stdout)
    _emit(render(result.findings, info, args.format, color=color), args.output, sys.stdout)
    _github_summary(args.format, result.findings, info)
    return exit_code(result.findings, fail_on)


def _check(args: argparse.Namespace, config: Config) -> int:
    defaults = config.check
    start = time.perf_counter()
    loader, module_file = resolve_target(args.target)
    from ._check import check_loader

    kwargs: dict[str, Any] = {
        "workers": args.workers if args.workers is not None else defaults.workers,
        "use_multiprocessing": (
            args.use_multiprocessing
            if args.use_multiprocessing is not None
            else defaults.use_multiprocessing
        ),
        "start_method": args.start_method or defaults.start_method,
        "max_batches": args.max_batches or defaults.max_batches,
        "batch_timeout": args.batch_timeout or defaults.batch_timeout,
        "ignore": list(defaults.ignore) + list(args.ignore or []),
    }
    timeout = args.timeout or defaults.timeout
    if timeout is not None:
        kwargs["timeout"] = timeout
    try:
        report = check_loader(loader, **kwargs)
    except (TypeError, ValueError) as exc:
        # check_loader validates its arguments and the loader's kind with these.
        msg = f"check_loader() refused {args.target!r}: {exc}"
        raise UsageError(msg) from exc
    target_file = None
    if module_file is not None:
        full = Path(module_file).resolve()
        try:
            target_file = full.relative_to(config.root).as_posix()
        except ValueError:
            target_file = full.as_posix()
    info = RunInfo(
        "check",
        seconds=time.perf_counter() - start,
        report=report,
        target_file=target_file,
        root=str(config.root),
    )
    fail_on = args.fail_on or defaults.fail_on or config.fail_on or "error"
    color = args.output is None and use_color(sys.stdout)
    _emit(render(report.findings, info, args.format, color=color), args.output, sys.stdout)
    _github_summary(args.format, report.findings, info)
    return exit_code(report.findings, fail_on)


# --- rules and explain ---------------------------------------------------------------------


def _rules(args: argparse.Namespace) -> int:
    from ._findings import REGISTRY

    checks = list(REGISTRY.values())
    if args.format == "json":
        import json

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
    from ._findings import REGISTRY

    blocks: list[str] = []
    for raw in args.codes:
        code = raw.strip().upper()
        check = REGISTRY.get(code) or next(
            (c for c in REGISTRY.values() if c.name == raw.strip().lower()), None
        )
        if check is None:
            _fail(
                f"unknown finding code {raw!r}.{_close(code, list(REGISTRY))} List them with `threadsafe-gen rules`."
            )
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


# --- target resolution -------------------------------------------------------------------


def _fail(msg: str) -> NoReturn:
    raise UsageError(msg)


def _looks_like_path(module: str) -> bool:
    return module.endswith(".py") or "/" in module or os.sep in module


def _top_level_names(path: Path) -> list[str]:
    """Names a file defines at top level, read with ast (the file is not run)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    # Classes and functions first: they are the likely loaders and factories.
    classes: list[str] = []
    functions: list[str] = []
    others: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes.append(node.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append(node.name)
        elif isinstance(node, ast.Assign):
            others.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return [n for n in (*classes, *functions, *others) if not n.startswith("_")]


def _close(word: str, options: Sequence[str]) -> str:
    matches = difflib.get_close_matches(word, list(options), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


def _import_file(path: Path) -> Any:
    """Import a .py file by its module name, with its package root on sys.path.

    Importing by name (not by file location) keeps classes picklable by reference, so
    spawn/forkserver workers, which receive the parent's sys.path, can import them too.
    """
    full = path.resolve()
    parts = [] if full.name == "__init__.py" else [full.stem]
    parent = full.parent
    while (parent / "__init__.py").exists() and parent.parent != parent:
        parts.append(parent.name)
        parent = parent.parent
    if str(parent) not in sys.path:
        sys.path.insert(0, str(parent))
    return importlib.import_module(".".join(reversed(parts)))


def _import_module(module: str) -> Any:
    if "" not in sys.path and os.getcwd() not in sys.path:
        # Like `python -m`: modules in the current directory are importable.
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        if module == missing or module.startswith(missing + "."):
            parent, _, leaf = missing.rpartition(".")
            if parent:
                try:
                    pkg = importlib.import_module(parent)
                    options = [m.name for m in pkgutil.iter_modules(getattr(pkg, "__path__", []))]
                except ImportError:
                    options = []
            else:
                options = [m.name for m in pkgutil.iter_modules()]
            hint = _close(leaf, options)
            if not hint and Path(module.replace(".", "/") + ".py").exists():
                hint = " It exists as a file: is its folder missing an __init__.py?"
            _fail(f"cannot import module {module!r}: no module named {missing!r}.{hint}")
        msg = (
            f"importing {module!r} failed: {type(exc).__name__}: {exc} (a dependency of the "
            "target is not installed)"
        )
        raise UsageError(msg) from exc


def resolve_target(spec: str) -> tuple[Any, str | None]:
    """Import ``MODULE:NAME`` or ``path/to/file.py:NAME`` and return (loader, module file).

    A class or function that is not itself a loader is called with no arguments, so a
    factory such as ``def make_loader(): return Loader(...)`` works as a target. Nothing is
    called for a generator function, which ``check_loader()`` calls itself for each pass.

    Raises:
        UsageError: the spec is malformed, the module or name does not exist (with close
            matches), importing raised, or the factory needs arguments.
    """
    module, colon, attr = spec.rpartition(":")
    if not colon:
        if _looks_like_path(spec):
            path = Path(spec)
            names = _top_level_names(path) if path.is_file() else []
            listed = f" Names defined there: {', '.join(names[:12])}." if names else ""
            _fail(
                f"target {spec!r} names a file but no object in it; add ':NAME', e.g. "
                f"'{spec}:{names[0] if names else 'make_loader'}'.{listed}"
            )
        _fail(
            f"target {spec!r} has no ':'; expected MODULE:NAME (e.g. 'mypkg.data:make_loader') "
            f"or path/to/file.py:NAME. Did you mean '{spec.rpartition('.')[0] or spec}:"
            f"{spec.rpartition('.')[2] if '.' in spec else 'NAME'}'?"
        )
    if not module or not attr:
        _fail(f"target {spec!r} must be MODULE:NAME with both parts, e.g. 'mypkg.data:make_loader'")
    if len(module) == 1 and module.isalpha():  # a Windows drive letter, e.g. C:\data.py
        _fail(f"target {spec!r} looks like a path without ':NAME'; use path\\to\\file.py:NAME")
    module_file: str | None = None
    try:
        if _looks_like_path(module):
            path = Path(module)
            if not path.is_file():
                with_py = Path(module + ".py")
                as_path = Path(module[:-3].replace(".", "/") + ".py")
                if with_py.is_file():  # examples/loaders:NAME without the .py
                    _fail(
                        f"target file {module!r} does not exist; did you mean '{with_py.as_posix()}:{attr}'?"
                    )
                if module.endswith(".py") and "/" not in module and as_path.is_file():
                    _fail(
                        f"target {spec!r} mixes a module name and a file name; use "
                        f"'{module[:-3]}:{attr}' or '{as_path.as_posix()}:{attr}'"
                    )
                folder = path.parent if str(path.parent) else Path()
                options = [p.name for p in folder.glob("*.py")] if folder.is_dir() else []
                _fail(f"target file {module!r} does not exist.{_close(path.name, options)}")
            mod = _import_file(path)
        else:
            if module.endswith(".py"):
                _fail(
                    f"module {module!r} ends in .py; write it as a path ({module[:-3].replace('.', '/')}.py) or a module name ({module[:-3]})"
                )
            mod = _import_module(module)
    except UsageError:
        raise
    except SystemExit as exc:
        msg = (
            f"importing {module!r} called sys.exit({exc.code!r}); the module runs code at import "
            'time: put it under `if __name__ == "__main__":`'
        )
        raise UsageError(msg) from exc
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        msg = (
            f"importing {module!r} raised {type(exc).__name__}: {exc} "
            f"(at {frame.filename}:{frame.lineno})"
        )
        raise UsageError(msg) from exc
    module_file = getattr(mod, "__file__", None)
    obj: Any = mod
    walked: list[str] = []
    for part in attr.split("."):
        if not hasattr(obj, part):
            options = [n for n in dir(obj) if not n.startswith("_")]
            where = ".".join([mod.__name__, *walked])
            _fail(f"{where!r} has no attribute {part!r}.{_close(part, options)}")
        obj = getattr(obj, part)
        walked.append(part)
    return _materialise(obj, spec), module_file


def _is_loader(obj: Any) -> bool:
    cls = type(obj)
    has_index = hasattr(cls, "__getitem__") and hasattr(cls, "__len__")
    return has_index or hasattr(cls, "__next__") or inspect.isgenerator(obj)


def _materialise(obj: Any, spec: str) -> Any:
    if inspect.isgeneratorfunction(obj) or _is_loader(obj) or not callable(obj):
        return obj
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        required = [
            p.name
            for p in sig.parameters.values()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if required:
            _fail(
                f"{spec!r} needs arguments ({', '.join(required)}); point the command at a "
                "loader object or at a zero-argument function that builds one, e.g. "
                "`def make_loader(): return MyLoader(x, y, batch_size=32)`"
            )
    try:
        return obj()
    except Exception as exc:
        msg = f"calling {spec!r}() to build the loader raised {type(exc).__name__}: {exc}"
        raise UsageError(msg) from exc
