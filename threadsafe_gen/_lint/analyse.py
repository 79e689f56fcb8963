"""One file: read it, parse it, run every rule over it, and return its facts.

Runs in worker processes for big trees (``jobs``), so it returns only picklable
:class:`~.facts.FileFacts`; the decisions that need all files are made in resolve.py.
Whatever a file holds, its analysis returns: a file that cannot be analysed (unreadable,
special, too large, too deep, not Python, even one that trips a bug of the linter) is one
TSG852 draft, and the other files are still linted.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .context import ModuleInfo
from .discovery import module_name
from .facts import Draft, FileFacts
from .notebooks import notebook_source
from .reading import read_source
from .rules import RULES, files
from .suppressions import parse_suppressions

__all__ = ["analyse_notebook", "analyse_path", "analyse_source"]


def _one(draft: Draft) -> FileFacts:
    return FileFacts(draft.path, [], [draft], [])


def analyse_path(arg: tuple[str, str, int]) -> FileFacts:
    """Analyse the file *arg* = (path to read, path to show, size cap); module or notebook."""
    path, shown, limit = arg
    raw = read_source(path, shown, limit)
    if isinstance(raw, Draft):
        return _one(raw)
    if path.endswith(".ipynb"):
        return analyse_notebook(raw, path, shown)
    return analyse_source(raw, path, shown, module_name(path))


def analyse_source(raw: bytes, path: str, shown: str, module: str) -> FileFacts:
    """Analyse one module's source: one TSG852 draft if it cannot be analysed, else the rules'."""
    try:
        return _analyse(raw, path, shown, module)
    except RecursionError:  # the AST is deeper than the rules' recursion can follow
        return _one(files.too_deep(shown))
    except Exception as exc:  # a bug of ours on this file: report it, lint the others
        return _one(files.internal_error(shown, exc))


def _analyse(raw: bytes, path: str, shown: str, module: str) -> FileFacts:
    suppressions = parse_suppressions(raw, shown)
    try:
        tree = ast.parse(raw, filename=path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        col = getattr(exc, "offset", None) or 1
        reason = getattr(exc, "msg", None) or str(exc)
        return FileFacts(shown, [], [files.not_python(shown, reason, line, col)], suppressions)
    except (RecursionError, MemoryError):  # the parser's own limits: "too deeply nested"
        return _one(files.too_deep(shown))
    info = ModuleInfo(tree, raw, shown, module)
    drafts: list[Draft] = []
    for rule in RULES:
        for draft in rule.check(info):
            if draft.code not in rule.codes:  # pragma: no cover - a programming error
                msg = f"lint rule {rule.name!r} reported {draft.code}, which it does not declare"
                raise RuntimeError(msg)
            drafts.append(draft)
    facts = FileFacts(shown, info.class_facts, drafts, suppressions)
    facts.generators = info.generator_facts
    facts.shared_generators = info.generators.shared_elsewhere
    return facts


def analyse_notebook(raw: bytes, path: str, shown: str) -> FileFacts:
    """Analyse a notebook as the module its code cells form (positions kept per cell)."""
    try:
        source, cells = notebook_source(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
        return _one(files.not_a_notebook(shown, str(exc)))
    facts = analyse_source(source, path, shown, Path(path).stem)
    # A notebook runs in a kernel, not as a script: there is no __main__ guard to add.
    facts.drafts = [d for d in facts.drafts if d.code != "TSG851"]
    facts.cells = cells
    return facts
