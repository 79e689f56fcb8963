"""Generate docs/checks.md from threadsafe_gen._registry.REGISTRY (script and MkDocs hook).

Every rendered finding links ``(docs/checks.md#tsg101)`` after its fix, so the page must
exist in the repository (readable on GitHub) AND on the site, with exactly those anchors.
One renderer serves both. Each entry shows the code's example and fix, read from
threadsafe_gen/_examples/, and links the rows of docs/failure-modes.md that measured it.

* ``python docs/gen_checks.py`` rewrites docs/checks.md; ``--check`` exits 1 when the
  committed page differs from the registry (tests/test_docs.py asserts the same).
* As a MkDocs hook (``hooks:`` in mkdocs.yml) it replaces the page's Markdown with a fresh
  rendering at build time, so the published site cannot drift from the code even if someone
  forgot to regenerate.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from threadsafe_gen._registry import REGISTRY, row_anchor

DOCS = Path(__file__).resolve().parent
CHECKS_MD = DOCS / "checks.md"

_CATEGORY_TITLES = {
    "pickling": "Pickling",
    "fork-safety": "Fork safety",
    "thread-safety": "Thread safety",
    "duplicate-data": "Duplicate data",
    "randomness": "Randomness",
    "coverage": "Coverage",
    "structure": "Structure",
    "performance": "Performance",
    "resources": "Resources",
    "hang": "Hangs",
    "crash": "Crashes",
}

#: The how-to page that walks from this category's symptoms to a fix.
_HOW_TO = {
    "pickling": ("Locks that pickle", "how-to/pickling-locks.md"),
    "fork-safety": ("Database connections in workers", "how-to/database-connections.md"),
    "thread-safety": ("Thread-safe generators", "how-to/thread-safe-generators.md"),
    "duplicate-data": ("Duplicated data", "how-to/duplicated-data.md"),
    "randomness": ("Random augmentation in workers", "how-to/random-augmentation.md"),
    "coverage": ("Duplicated data", "how-to/duplicated-data.md"),
    "performance": ("GPU idle with workers=8", "how-to/gpu-idle.md"),
    "resources": ("Database connections in workers", "how-to/database-connections.md"),
    "hang": ("Hangs and crashed workers", "how-to/hangs-and-crashes.md"),
    "crash": ("Hangs and crashed workers", "how-to/hangs-and-crashes.md"),
}

# Identifiers with an underscore or a dot (`__getitem__`, `threadsafe_gen.per_process`,
# `np.random`) and calls (`pickle.dumps()`): Markdown would turn `__x__` into bold.
_IDENT = re.compile(
    r"(?<![\w`.])([A-Za-z_]\w*(?:\([^()]*\))?(?:\.[A-Za-z_]\w*(?:\([^()]*\))?)*)(?![\w`])"
)
_NOT_CODE = {"e.g", "i.e", "etc"}


def _codeify(segment: str) -> str:
    def repl(m: re.Match[str]) -> str:
        tok = m.group(1)
        ident = tok.split("(", 1)[0]
        if ident in _NOT_CODE:
            return tok
        inner = ident.strip("_")
        if "(" in tok or "." in ident or "_" in inner or ident.startswith("__"):
            return f"`{tok}`"
        return tok

    return _IDENT.sub(repl, segment.replace("<", "&lt;"))


def md_text(text: str) -> str:
    """Registry prose as Markdown: keep `code` spans, format identifiers as code."""
    parts = text.split("`")
    # Even indices are prose, odd ones were already code spans.
    return "`".join(p if i % 2 else _codeify(p) for i, p in enumerate(parts))


def _fence(source: str) -> str:
    return "```python\n" + source.strip("\n") + "\n```"


def _suppression(check: Any) -> list[str]:
    code = check.code
    lines = ["**Suppress** (only once you know why it is safe here):", ""]
    if check.kind == "check":
        lines += [
            f'- in Python: `check_loader(loader, ignore=["{code}"])` or '
            f'`assert_loader_safe(loader, ignore=["{code}"])`;',
            f'- for `threadsafe-gen check` in CI: `ignore = ["{code}"]` under '
            f"`[tool.threadsafe_gen.check]` in pyproject.toml, or `--ignore {code}`.",
        ]
    else:
        lines += [
            f"- on the reported line: `# threadsafe-gen: ignore[{code}]`;",
            f'- for a whole project: `ignore = ["{code}"]` under `[tool.threadsafe_gen]` in '
            f'pyproject.toml, or for some files: `per-file-ignores = {{"tests/*" = ["{code}"]}}`;',
            f"- on the command line: `threadsafe-gen lint --ignore {code} src/`.",
        ]
    return lines


def _measured(rows: Iterable[str]) -> str:
    links = [f"[{row}](failure-modes.md#{row_anchor(row)})" for row in rows]
    listed = links[0] if len(links) == 1 else ", ".join(links[:-1]) + " and " + links[-1]
    noun = "row" if len(links) == 1 else "rows"
    return f"**Measured:** {noun} {listed} of the [failure modes catalogue](failure-modes.md)."


def _section(check: Any) -> list[str]:
    found_by = (
        "`check_loader()` and `threadsafe-gen check` (a dry run)"
        if check.kind == "check"
        else "`threadsafe-gen lint` (static analysis: your code is never imported)"
    )
    out = [
        f"### {check.code}: {md_text(check.title)} {{ #{check.code.lower()} }}",
        "",
        "| Name | Category | Default severity | Found by |",
        "|---|---|---|---|",
        f"| `{check.name}` | {check.category.value} | **{check.severity.value}** | {found_by} |",
        "",
        f"**Why it matters.** {md_text(check.why)}",
        "",
        f"**Fix.** {md_text(check.fix)}",
        "",
        f"**Decided in** `{check.decided_by.replace('.', '/')}.py`.",
        "",
    ]
    if check.rows:
        out += [_measured(check.rows), ""]
    if check.example:
        out += ["**Example that triggers it:**", "", _fence(check.example), ""]
    if check.fixed:
        out += ["**Fixed:**", "", _fence(check.fixed), ""]
    out += [*_suppression(check), ""]
    how_to = _HOW_TO.get(check.category.value)
    if how_to is not None:
        out += [f"**Step by step:** [{how_to[0]}]({how_to[1]}).", ""]
    return out


def render(registry: Mapping[str, Any] | None = None) -> str:
    """Return the Markdown of the checks reference for *registry* (default: the real one)."""
    if registry is None:
        registry = REGISTRY
    checks = list(registry.values())
    out = [
        "<!-- GENERATED by docs/gen_checks.py from threadsafe_gen._registry.REGISTRY and the",
        "     examples in threadsafe_gen/_examples/. Do not edit: change those, then run",
        "     `python docs/gen_checks.py`. -->",
        "",
        "# Checks reference",
        "",
        "Every problem `threadsafe_gen` reports has a stable code. Each finding shows its code",
        "and links here after its fix, for example `(docs/checks.md#tsg101)`.",
        "",
        "- Codes `TSGx00`-`TSGx49` come from the dry run: `check_loader()`,",
        "  `assert_loader_safe()` and `threadsafe-gen check` run your loader the way workers will.",
        "- Codes `TSGx50`-`TSGx99` come from the static linter, `threadsafe-gen lint`, which reads",
        "  your source and never imports it.",
        "- The first digit is the category: 1 pickling, 2 fork safety, 3 thread safety,",
        "  4 duplicate data, 5 randomness, 6 coverage and structure, 7 performance and",
        "  resources, 8 hangs and crashes.",
        "- Severity: **error** fails `LoaderReport.ok`, `raise_for_errors()` and the CLI (exit 1);",
        "  **warning** and **info** are reported but pass unless you ask otherwise",
        "  (`--fail-on warning`). A problem that appears only under `spawn`/`forkserver` is an",
        "  error when your worker processes use one of those, and a warning otherwise (threads,",
        "  or fork): it breaks as soon as you switch, or upgrade to Python 3.14.",
        "",
        "Codes are never renumbered or reused. To silence one, see the **Suppress** line of its",
        "entry: `check_loader(..., ignore=[...])` or `[tool.threadsafe_gen.check]` for the dry",
        "run, and `# threadsafe-gen: ignore[CODE]` or `[tool.threadsafe_gen]` for the linter.",
        "",
        "## All codes",
        "",
        "| Code | Problem | Category | Severity | Found by |",
        "|---|---|---|---|---|",
    ]
    for c in checks:
        by = "check" if c.kind == "check" else "lint"
        out.append(
            f"| [{c.code}](#{c.code.lower()}) | {md_text(c.title)} | {c.category.value} "
            f"| {c.severity.value} | {by} |"
        )
    out.append("")
    by_category: dict[str, list[Any]] = {}
    for c in checks:
        by_category.setdefault(c.category.value, []).append(c)
    order = [k for k in _CATEGORY_TITLES if k in by_category]
    order += [k for k in by_category if k not in _CATEGORY_TITLES]
    for cat in order:
        out += [f"## {_CATEGORY_TITLES.get(cat, cat.title())}", ""]
        for c in sorted(by_category[cat], key=lambda c: c.code):
            out += _section(c)
    return "\n".join(out).rstrip() + "\n"


def write(path: Path = CHECKS_MD) -> bool:
    """Write the page; return True when it changed."""
    text = render()
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


# --- MkDocs hook ----------------------------------------------------------------------------


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Render checks.md from the registry at build time; leave other pages as they are."""
    if page.file.src_uri == "checks.md":
        return render()
    return markdown


def main(argv: Iterable[str] | None = None) -> int:
    """Command line: write docs/checks.md, or verify it with ``--check``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/checks.md is out of date"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.check:
        current = CHECKS_MD.read_text(encoding="utf-8") if CHECKS_MD.exists() else ""
        if current != render():
            sys.stderr.write("docs/checks.md is out of date: run `python docs/gen_checks.py`\n")
            return 1
        return 0
    changed = write()
    sys.stdout.write(f"docs/checks.md {'updated' if changed else 'already up to date'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
