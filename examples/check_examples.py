"""Run threadsafe_gen.check_loader() over loaders that reproduce the problems users report.

This is the main job of the README::

    pip install -e '.[tensorflow]'
    python examples/check_examples.py

For every loader in ``problem_loaders.py`` it prints what the user saw, then the checker's
report, and for the good examples (SQLite with per_process connections, a file list with
per_thread handles, Pillow augmentation over a SharedArray with rng_for, a thread-safe
generator) it prints their reports, which must hold no error. The summary at the end says,
for each problem, whether the checker found it; the exit status is 0 only when every
problem was found and every good example is clean.

Options: ``--only NAME`` (repeatable) runs some cases; ``--no-good`` skips the good
examples (no TensorFlow import then); ``--dsn`` adds the PostgreSQL example.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run from anywhere

import problem_loaders

from threadsafe_gen import check_loader

CLEANUPS: list[Callable[[], object]] = []  # run at the end (e.g. drop the PostgreSQL table)


def good_examples(directory: str, dsn: str | None) -> list[tuple[str, Callable[[], Any] | str]]:
    """(name, make loader) for the examples that must be clean; imports Keras.

    An example whose optional dependency is missing (Pillow, psycopg) comes with the reason
    instead of a factory, so the script still works after a bare ``pip install -e '.[tensorflow]'``.
    """
    import importlib

    specs: list[tuple[str, str, Callable[[Any], Any]]] = [
        (
            "sqlite_sequence (per_process, 2 processes)",
            "sqlite_sequence",
            lambda m: m.make_loader(directory),
        ),
        ("file_list (per_thread, 4 threads)", "file_list", lambda m: m.make_loader(directory)),
        (
            "image_augmentation (SharedArray + rng_for, 2 processes)",
            "image_augmentation",
            lambda m: m.make_loader(),
        ),
        (
            "threadsafe_generator (@threadsafe_generator, 4 threads)",
            "threadsafe_generator",
            lambda m: m.make_loader(),
        ),
    ]
    if dsn:

        def make_pg(m: Any) -> Any:
            table = f"tsg_check_examples_{os.getpid()}"
            m.create_table(dsn, table, m.make_rows())
            CLEANUPS.append(lambda: m.drop_table(dsn, table))
            return m.PostgresDataset(
                dsn, table, problem_loaders.N, workers=2, use_multiprocessing=True
            )

        specs.append(("postgres_sequence (per_process, 2 processes)", "postgres_sequence", make_pg))
    cases: list[tuple[str, Callable[[], Any] | str]] = []
    for name, module_name, make in specs:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                raise
            cases.append((name, f"skipped: it needs {exc.name!r} (pip install -e '.[dev]')"))
            continue
        cases.append((name, lambda module=module, make=make: make(module)))
    return cases


def rule(title: str) -> None:
    print(f"\n{'=' * 100}\n{title}\n{'=' * 100}", flush=True)


def options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in options.items()) or "defaults from the loader"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="check_loader() over loaders with the problems users report"
    )
    parser.add_argument("--only", action="append", default=[], help="case name (repeatable)")
    parser.add_argument("--no-good", action="store_true", help="skip the good examples")
    parser.add_argument(
        "--dsn", default=os.environ.get("TSG_PG_DSN"), help="also check the PostgreSQL example"
    )
    args = parser.parse_args(argv)

    scratch = problem_loaders.scratch_dir()
    summary: list[tuple[str, str, str, bool, float]] = []
    started = time.perf_counter()
    try:
        for case in problem_loaders.CASES:
            if args.only and case.name not in args.only:
                continue
            rule(
                f"PROBLEM {case.name}: users saw: {case.report}\ncheck_loader({options_text(case.options)})"
            )
            t0 = time.perf_counter()
            report = check_loader(case.make(scratch), **case.options)
            elapsed = time.perf_counter() - t0
            print(report, flush=True)
            found = sorted(report.codes() & case.expect)
            summary.append(
                (
                    case.name,
                    "/".join(sorted(case.expect)),
                    ",".join(found) or "-",
                    bool(found),
                    elapsed,
                )
            )
        if not args.no_good:
            for name, make in good_examples(scratch, args.dsn):
                short = name.split()[0]
                if args.only and short not in args.only:
                    continue
                rule(f"GOOD {name}: must have no error finding")
                if isinstance(make, str):
                    print(make)
                    continue
                t0 = time.perf_counter()
                report = check_loader(make())
                elapsed = time.perf_counter() - t0
                print(report, flush=True)
                errors = sorted({f.code for f in report.errors})
                summary.append(
                    (short, "no errors", ",".join(errors) or "clean", not errors, elapsed)
                )
    finally:
        for cleanup in CLEANUPS:
            cleanup()
        shutil.rmtree(scratch, ignore_errors=True)

    rule(f"SUMMARY ({time.perf_counter() - started:.0f} s)")
    width = max(len(row[0]) for row in summary) if summary else 10
    print(f"{'case':<{width}}  {'expected':<28}  {'found':<22}  {'seconds':>7}  result")
    for name, expected, found, ok, elapsed in summary:
        print(
            f"{name:<{width}}  {expected:<28}  {found:<22}  {elapsed:7.1f}  {'ok' if ok else 'MISSED'}"
        )
    missed = [row[0] for row in summary if not row[3]]
    print(
        f"\n{len(summary) - len(missed)}/{len(summary)} as expected"
        + (f"; not as expected: {', '.join(missed)}" if missed else "")
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
