"""Precision and recall of `threadsafe-gen lint` and `check_loader()` on the loader corpus.

The corpus (tests/corpus/) holds realistic loaders written after patterns in public code; each
declares what must be found and what would be a false alarm (its ``EXPECT``). This script lints
the whole corpus at once, checks every loader with its author's settings, and prints, per tool:

- precision = TP / (TP + FP) and recall = TP / (TP + FN), counted per loader and distinct code
  (the rule is in tests/corpus/_evaluate.py and docs/accuracy.md);
- the unjudged findings (codes named by neither list), for a human to judge;
- noise: findings beyond the first of each code on one loader;
- speed: the lint of the whole corpus (target < 1 s) and check_loader on a Keras 3 PyDataset
  (target < 5 s), the numbers issue 10 asks for.

Run from the repository root: ``python benchmarks/accuracy.py`` (``--no-keras`` skips the
loaders that import TensorFlow/Keras, ``-k NAME`` selects modules, ``-v`` prints every finding).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from corpus import Unavailable, load, module_names, needs_keras  # noqa: E402
from corpus._evaluate import (  # noqa: E402
    Judgement,
    check,
    judge,
    lint_corpus,
    missing_needs,
    postgres_provider,
    workspace,
)

SPEED_LOADER = "k3_pydataset_images"  # the Keras 3 PyDataset timed for the speed target


def _ratio(num: int, den: int) -> str:
    return f"{100 * num / den:.0f}% ({num}/{den})" if den else "n/a"


def _row(name: str, judgements: Iterable[Judgement]) -> dict[str, int]:
    js = list(judgements)
    return {
        "tp": sum(len(j.true_pos) for j in js),
        "fp": sum(len(j.false_pos) for j in js),
        "fn": sum(len(j.false_neg) for j in js),
        "unjudged": sum(len(j.unjudged) for j in js),
        "noise": sum(j.noise for j in js),
        "loaders": len(js),
    }


def _describe(name: str, tool: str, j: Judgement, verbose: bool) -> list[str]:
    out = []
    if j.false_pos:
        out.append(f"  {name} {tool}: false alarm {', '.join(sorted(j.false_pos))}")
    if j.false_neg:
        out.append(f"  {name} {tool}: missed {', '.join(sorted(j.false_neg))}")
    if verbose and j.noise:
        out.append(f"  {name} {tool}: {j.noise} findings beyond one per code")
    if verbose and j.true_pos:
        out.append(f"  {name} {tool}: found {', '.join(sorted(j.true_pos))}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", action="append", default=[], help="only modules containing this")
    parser.add_argument("--no-keras", action="store_true", help="skip TensorFlow/Keras loaders")
    parser.add_argument("--no-check", action="store_true", help="lint only")
    parser.add_argument("-v", "--verbose", action="store_true", help="print true positives too")
    args = parser.parse_args(argv)

    names = [n for n in module_names() if not args.k or any(k in n for k in args.k)]
    if args.no_keras:
        names = [n for n in names if not needs_keras(n)]

    lint_times = []
    for _ in range(5):
        by_module, seconds = lint_corpus()
        lint_times.append(seconds)
    lint_seconds = statistics.median(lint_times)

    lint_j: dict[str, Judgement] = {}
    check_j: dict[str, Judgement] = {}
    unjudged: list[str] = []
    problems: list[str] = []
    skipped: list[str] = []
    check_seconds: dict[str, float] = {}
    with postgres_provider() as postgres:
        for name in names:
            expect = load(name).EXPECT
            found = by_module.get(name, [])
            lint_j[name] = judge(found, expect.lint_must, expect.lint_must_not)
            if args.no_check or expect.loader is None:
                continue
            missing = missing_needs(expect)
            if missing:
                skipped.append(f"{name} (needs {', '.join(missing)})")
                continue
            with workspace(postgres) as ws:
                t0 = time.perf_counter()
                try:
                    report = check(expect, ws)
                except Unavailable as exc:
                    skipped.append(f"{name} ({exc})")
                    continue
                check_seconds[name] = time.perf_counter() - t0
            check_j[name] = judge(report.findings, expect.check_must, expect.check_must_not)

    for name in names:
        for tool, table in (("lint", lint_j), ("check", check_j)):
            if name not in table:
                continue
            j = table[name]
            problems += _describe(name, tool, j, args.verbose)
            unjudged += [f"  {name} {tool}: {code}" for code in sorted(j.unjudged)]

    print(f"corpus: {len(names)} loaders ({sum(load(n).EXPECT.clean for n in names)} clean)")
    print()
    print("| tool | precision | recall | unjudged | noise | loaders |")
    print("|---|---|---|---|---|---|")
    for tool, table in (("lint", lint_j), ("check", check_j)):
        r = _row(tool, table.values())
        print(
            f"| {tool} | {_ratio(r['tp'], r['tp'] + r['fp'])} | {_ratio(r['tp'], r['tp'] + r['fn'])}"
            f" | {r['unjudged']} | {r['noise']} | {r['loaders']} |"
        )
    print()
    print(f"lint of the whole corpus: {lint_seconds:.2f} s (median of 5; target < 1 s)")
    if SPEED_LOADER in check_seconds:
        t = check_seconds[SPEED_LOADER]
        print(f"check_loader on a Keras 3 PyDataset ({SPEED_LOADER}): {t:.2f} s (target < 5 s)")
    if check_seconds:
        total = sum(check_seconds.values())
        print(f"check_loader on {len(check_seconds)} loaders: {total:.1f} s in all")
    if problems:
        print("\nwrong (false alarms and misses):")
        print("\n".join(problems))
    if unjudged:
        print("\nunjudged (found, in neither list; judge them):")
        print("\n".join(unjudged))
    if skipped:
        print("\nnot checked: " + "; ".join(skipped))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
