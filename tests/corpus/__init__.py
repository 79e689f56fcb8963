"""The accuracy corpus: realistic data loaders, each modelled on a pattern found in public code.

Every module in this package is one loader written here (never copied), small and runnable on
tiny data that its factory makes in a temporary folder. Its header comment names the public
repository and path whose pattern it follows. At the bottom, ``EXPECT`` declares as data what a
careful human sees when reading the code with the author's own settings:

- ``lint_must`` / ``check_must``: the real workers>1 problems that ``threadsafe-gen lint`` and
  ``check_loader()`` must report;
- ``lint_must_not`` / ``check_must_not``: what would be a false alarm here.

Findings of codes in neither set are *unjudged*: they count neither way, and
``benchmarks/accuracy.py`` prints them so that a human can judge them.

An entry is a code (``"TSG353"``), a code at one severity (``"TSG623:error"``), a shell-style
pattern (``"TSG35?"``: any thread-safety lint code) or alternatives (``"TSG101|TSG102"``).
``tests/test_corpus.py`` enforces the expectations; ``benchmarks/accuracy.py`` measures
precision and recall from them (docs/accuracy.md).

Fields ending in ``_xfail`` hold the reason ("issue 10 item N: ...") while today's code gets the
loader wrong; the test marks it ``xfail(strict=True)``, so a fix flips it to a failure and the
mark is removed then.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "CORPUS_DIR",
    "Expect",
    "Unavailable",
    "Workspace",
    "load",
    "matches",
    "module_names",
    "needs_keras",
    "uses_postgres",
    "xfail_reasons",
]

CORPUS_DIR = Path(__file__).resolve().parent


class Unavailable(RuntimeError):
    """A loader cannot run here (a library or server is missing); the message says why."""


@dataclasses.dataclass
class Workspace:
    """What a loader factory gets: a fresh temporary folder and a place to register cleanup.

    Attributes:
        path: an empty folder for the loader's tiny data.
        stack: close files, environments and connections here (``stack.callback(obj.close)``).
        postgres: returns a libpq DSN of a running PostgreSQL server (started on first use),
            or raises :class:`Unavailable`.
    """

    path: Path
    stack: contextlib.ExitStack
    postgres: Callable[[], str]


def _codes(value: Iterable[str] | str) -> frozenset[str]:
    return frozenset([value] if isinstance(value, str) else value)


@dataclasses.dataclass(frozen=True)
class Expect:
    """What must and must not be found in one corpus loader (see the package docstring).

    Attributes:
        source: ``owner/repo:path`` of the public code whose pattern the loader follows.
        loader: ``factory(workspace) -> loader`` as the author passes it to Keras, or ``None``
            for a module that is linted only (it needs a library that is not installed).
        check_kwargs: the author's settings, passed to ``check_loader`` (workers,
            use_multiprocessing, start_method) plus the budget (max_batches, timeout).
        needs: modules the loader imports to run; the check is skipped when one is missing
            (a module importing TensorFlow or Keras is found from its source: `needs_keras`).
        at_most: ``{code: n}``: one root cause gives at most n findings of that code.
        flaky: set while the check finds this loader's problem only on some runs (a race it
            waits for instead of provoking): the check and determinism tests are then
            non-strict xfails with this reason.
        why: the judgement in one or two sentences, as a reader of the code sees it.
    """

    source: str
    loader: Callable[[Workspace], Any] | None = None
    lint_must: Iterable[str] | str = frozenset()
    lint_must_not: Iterable[str] | str = frozenset()
    check_must: Iterable[str] | str = frozenset()
    check_must_not: Iterable[str] | str = frozenset()
    check_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    needs: tuple[str, ...] = ()
    at_most: Mapping[str, int] = dataclasses.field(default_factory=dict)
    lint_xfail: str | None = None
    check_xfail: str | None = None
    stable_xfail: str | None = None
    noise_xfail: str | None = None
    flaky: str | None = None
    why: str = ""

    def __post_init__(self) -> None:
        for name in ("lint_must", "lint_must_not", "check_must", "check_must_not"):
            object.__setattr__(self, name, _codes(getattr(self, name)))

    @property
    def clean(self) -> bool:
        """True when a careful reader sees no workers>1 problem at all."""
        return not self.lint_must and not self.check_must


def matches(entry: str, code: str, severity: str) -> bool:
    """True when a finding of *code* at *severity* is what *entry* names.

    >>> matches("TSG623:error", "TSG623", "warning"), matches("TSG35?", "TSG352", "warning")
    (False, True)
    """
    for alt in entry.split("|"):
        pattern, _, sev = alt.partition(":")
        if fnmatch.fnmatchcase(code, pattern) and (not sev or sev == severity):
            return True
    return False


def module_names() -> list[str]:
    """The corpus modules, by name, without importing them (helpers start with ``_``)."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(CORPUS_DIR)])
        if not info.name.startswith("_")
    )


def load(name: str) -> ModuleType:
    """Import one corpus module (``corpus.<name>``)."""
    return importlib.import_module(f"{__name__}.{name}")


def needs_keras(name: str) -> bool:
    """Whether the module imports TensorFlow or Keras, read from its source (no import)."""
    text = (CORPUS_DIR / f"{name}.py").read_text()
    return any(
        marker in text
        for marker in (
            "import keras",
            "from keras",
            "import tensorflow",
            "from tensorflow",
            "tf_keras",
        )
    )


def xfail_reasons(name: str) -> dict[str, str]:
    """The ``*_xfail`` reasons of a module's ``EXPECT``, read from its source without importing
    it (collecting the tests must not import TensorFlow)."""
    import ast

    tree = ast.parse((CORPUS_DIR / f"{name}.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "EXPECT" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            return {
                kw.arg: kw.value.value
                for kw in node.value.keywords
                if kw.arg is not None
                and (kw.arg.endswith("_xfail") or kw.arg == "flaky")
                and isinstance(kw.value, ast.Constant)
                and isinstance(kw.value.value, str)
            }
    return {}


def needs_provoked_race(name: str) -> bool:
    """Whether the check must find a thread race in this module's loader (TSG302/TSG306):
    found for certain only where races can be provoked (Python >= 3.11), by luck elsewhere.
    Read from its source."""
    text = (CORPUS_DIR / f"{name}.py").read_text()
    return any(
        "check_must" in line and ("TSG302" in line or "TSG306" in line)
        for line in text.splitlines()
        if "check_must_not" not in line
    )


def uses_postgres(name: str) -> bool:
    """Whether the module's factory asks for a PostgreSQL server (read from its source)."""
    return "ws.postgres()" in (CORPUS_DIR / f"{name}.py").read_text()
