"""Run the linter and the checker on the corpus and judge their findings against ``EXPECT``.

Shared by tests/test_corpus.py (which enforces the expectations) and benchmarks/accuracy.py
(which measures precision and recall). The counting rule, per loader and per tool:

- a *found code* is a distinct finding code reported for that loader (several findings of one
  code count once; the extra ones are counted separately as *noise*);
- true positive: a found code that a ``must`` entry names;
- false positive: a found code that a ``must_not`` entry names (and no ``must`` entry);
- false negative: a ``must`` entry that no found code matches;
- unjudged: a found code named by neither; printed, never counted.

precision = TP / (TP + FP) and recall = TP / (TP + FN), summed over the corpus.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from threadsafe_gen import Finding, LoaderReport, check_loader, lint_paths

from . import CORPUS_DIR, Expect, Unavailable, Workspace, matches

__all__ = [
    "Judgement",
    "check",
    "judge",
    "lint_corpus",
    "missing_needs",
    "postgres_provider",
    "workspace",
]

# The check budget when a module does not set its own: the corpus loaders are tiny.
DEFAULT_CHECK = {"max_batches": 16, "timeout": 30.0}


@dataclasses.dataclass
class Judgement:
    """One tool's findings on one loader, judged against the expectations."""

    true_pos: set[str] = dataclasses.field(default_factory=set)  # found codes that must be found
    false_pos: set[str] = dataclasses.field(default_factory=set)  # found codes that must not be
    false_neg: set[str] = dataclasses.field(default_factory=set)  # must entries not found
    unjudged: set[str] = dataclasses.field(default_factory=set)  # found, in neither list
    noise: int = 0  # findings beyond the first of each code

    @property
    def ok(self) -> bool:
        return not self.false_pos and not self.false_neg


def judge(findings: Iterable[Finding], must: Iterable[str], must_not: Iterable[str]) -> Judgement:
    """Judge *findings* (one tool, one loader) by the counting rule of this module."""
    must, must_not = list(must), list(must_not)
    out = Judgement()
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for f in findings:
        counts[(f.code, f.severity.value)] += 1
    per_code: dict[str, int] = defaultdict(int)
    for (code, severity), n in counts.items():
        per_code[code] += n
        label = f"{code}:{severity}"
        if any(matches(entry, code, severity) for entry in must):
            out.true_pos.add(label)
        elif any(matches(entry, code, severity) for entry in must_not):
            out.false_pos.add(label)
        else:
            out.unjudged.add(label)
    out.noise = sum(n - 1 for n in per_code.values())
    for entry in must:
        if not any(matches(entry, code, severity) for code, severity in counts):
            out.false_neg.add(entry)
    return out


def lint_corpus(root: Path = CORPUS_DIR) -> tuple[dict[str, list[Finding]], float]:
    """Lint every corpus file together (imports resolve across them); findings by module name,
    and the wall time of the lint in seconds."""
    t0 = time.perf_counter()
    result = lint_paths([root], root=root, jobs=1)
    seconds = time.perf_counter() - t0
    by_module: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        if f.location is not None:
            by_module[Path(f.location.file).stem].append(f)
    return dict(by_module), seconds


def missing_needs(expect: Expect) -> list[str]:
    """The modules *expect* needs that cannot be imported here."""
    return [name for name in expect.needs if importlib.util.find_spec(name) is None]


@contextlib.contextmanager
def postgres_provider() -> Iterator[Callable[[], str]]:
    """A ``postgres()`` callable for workspaces: starts one server on first use (tests/helpers/postgres.py)."""
    with contextlib.ExitStack() as stack:
        dsn: list[str] = []
        failure: list[str] = []

        def postgres() -> str:
            if failure:
                raise Unavailable(failure[0])
            if not dsn:
                from helpers.postgres import PostgresUnavailable, postgres_server

                try:
                    dsn.append(stack.enter_context(postgres_server()))
                except PostgresUnavailable as exc:
                    failure.append(f"PostgreSQL: {exc}")
                    raise Unavailable(failure[0]) from exc
            return dsn[0]

        yield postgres


@contextlib.contextmanager
def workspace(postgres: Callable[[], str]) -> Iterator[Workspace]:
    """A fresh temporary folder and cleanup stack for one loader factory."""
    with tempfile.TemporaryDirectory(prefix="tsg_corpus_") as tmp, contextlib.ExitStack() as stack:
        yield Workspace(path=Path(tmp), stack=stack, postgres=postgres)


def check(expect: Expect, ws: Workspace, **overrides: Any) -> LoaderReport:
    """``check_loader`` on the module's loader with the author's settings."""
    if expect.loader is None:
        msg = "this corpus module is linted only"
        raise Unavailable(msg)
    loader = expect.loader(ws)
    kwargs = {**DEFAULT_CHECK, **expect.check_kwargs, **overrides}
    return check_loader(loader, **kwargs)
