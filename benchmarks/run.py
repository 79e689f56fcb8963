"""Run every benchmark and print the ratios side by side: ``python benchmarks/run.py``.

Each benchmark runs in its own fresh interpreter (so TensorFlow threads or a warm allocator
from one do not disturb the next) and prints its results; this script collects them and prints
one table with the targets from issue 6. ``--quick`` runs tiny sizes (the smoke test);
``--write-docs`` replaces the results table in docs/performance.md with this run's numbers.

Timings on a shared 2-core machine are noisy: compare the ratios, which are measured side by
side in one run, not absolute times between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _util import Result, machine  # noqa: E402

BENCHMARKS = [
    "bench_iter",
    "bench_guard",
    "bench_shards",
    "bench_shared",
    "bench_keras_pool",
    "bench_check",
    "bench_peers",
    "bench_hosts",
]
DOCS = os.path.join(os.path.dirname(HERE), "docs", "performance.md")
START, END = "<!-- results:start -->", "<!-- results:end -->"


def run_one(name: str, quick: bool, timeout: float) -> tuple[list[Result], str]:
    cmd = [sys.executable, os.path.join(HERE, f"{name}.py")] + (["--quick"] if quick else [])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return [], f"{name}: timed out after {timeout:.0f} s"
    results = [
        Result(**json.loads(line[len("RESULT ") :]))
        for line in proc.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
    problem = (
        ""
        if proc.returncode == 0
        else f"{name}: exit {proc.returncode}: {proc.stderr.strip()[-1500:]}"
    )
    return results, problem


def fmt_value(r: Result) -> str:
    return f"{r.value:.2f}{' ' + r.unit if r.unit in ('%', 's') else 'x'}"


def verdict(r: Result) -> str:
    return "-" if r.met is None else ("met" if r.met else "MISSED")


def md(text: str) -> str:
    """Markdown-safe cell text: dunder names in backticks (else `__x__` renders bold)."""
    return re.sub(r"(\w*__\w+__\w*)", r"`\1`", text)


def table(results: list[Result]) -> str:
    lines = [
        "| benchmark | what is compared | value | target | result | measured |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {md(r.benchmark)} | {md(r.metric)} | {fmt_value(r)} | {r.target or '-'} | {verdict(r)} | {md(r.detail)} |"
        )
    return "\n".join(lines)


def write_docs(results: list[Result], info: dict[str, str], seconds: float, quick: bool) -> None:
    with open(DOCS) as f:
        text = f.read()
    if START not in text or END not in text:
        sys.exit(f"{DOCS} has no {START} ... {END} section to replace")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine_line = ", ".join(f"{k} {v}" for k, v in info.items())
    block = (
        f"{START}\nMeasured {stamp} by `python benchmarks/run.py{' --quick' if quick else ''}` "
        f"in {seconds:.0f} s on: {machine_line}.\n\n{table(results)}\n{END}"
    )
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    with open(DOCS, "w") as f:
        f.write(head + block + tail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks that everything runs"
    )
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only these (repeatable)"
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="put the table into docs/performance.md"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark")
    args = parser.parse_args()

    info = machine()
    if hasattr(os, "getloadavg"):  # other work on the machine inflates every time: say how much
        info["load average at start"] = f"{os.getloadavg()[0]:.1f}"
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    started = time.perf_counter()
    results: list[Result] = []
    problems: list[str] = []
    for name in args.only or BENCHMARKS:
        t0 = time.perf_counter()
        print(f"running {name} ...", end=" ", flush=True)
        found, problem = run_one(name, args.quick, args.timeout)
        print(f"{time.perf_counter() - t0:.0f} s", flush=True)
        results += found
        if problem:
            problems.append(problem)
    seconds = time.perf_counter() - started
    if hasattr(os, "getloadavg"):
        info["at end"] = f"{os.getloadavg()[0]:.1f}"
    print()
    width = max((len(f"{r.benchmark}: {r.metric}") for r in results), default=20)
    for r in results:
        print(
            f"{f'{r.benchmark}: {r.metric}':<{width}}  {fmt_value(r):>9}  target {r.target or '-':<22} {verdict(r):<7} {r.detail}"
        )
    for problem in problems:
        print(f"\nFAILED {problem}", file=sys.stderr)
    if args.write_docs:
        write_docs(results, info, seconds, args.quick)
        print(f"\nwrote the table to {DOCS}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
