"""The registry of codes (threadsafe_gen/_registry.py) and its example files (_examples/)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import threadsafe_gen
from threadsafe_gen import REGISTRY, Category
from threadsafe_gen._registry import EXAMPLES_SHOWN_FROM, read_example, row_anchor

EXAMPLES = Path(threadsafe_gen.__file__).parent / "_examples"
FAILURE_MODES = Path(__file__).resolve().parents[1] / "docs" / "failure-modes.md"
NOT_EXAMPLES = {"__init__.py", "_assumed.pyi"}


def test_codes_are_well_formed_and_numbered_by_kind() -> None:
    """Every code is TSG + 3 digits; x50 and above are static lint rules."""
    for code, check in REGISTRY.items():
        assert re.fullmatch(r"TSG[1-8]\d\d", code), code
        assert check.code == code
        assert check.kind == ("lint" if int(code[-2:]) >= 50 else "check")
        assert check.why
        assert check.fix
        assert check.title


def test_registry_covers_every_category() -> None:
    """Each of the eleven categories has at least one dynamic check."""
    dynamic = {c.category for c in REGISTRY.values() if c.kind == "check"}
    assert dynamic == set(Category)


def test_every_example_file_is_used_and_exists() -> None:
    """The registry names existing files only, and every file in _examples/ is named."""
    named = {f for c in REGISTRY.values() for f in (c.example_file, c.fixed_file) if f}
    present = {p.name for p in EXAMPLES.iterdir() if p.is_file()} - NOT_EXAMPLES
    assert named == present


def test_python_examples_mark_what_is_shown() -> None:
    """Each .py example has the line after which it is shown exactly once, and shows code."""
    for path in sorted(EXAMPLES.glob("tsg*.py")):
        text = path.read_text(encoding="utf-8")
        assert text.count(EXAMPLES_SHOWN_FROM + "\n") == 1, path.name
        shown = read_example(path.name)
        assert shown.strip(), path.name
        assert EXAMPLES_SHOWN_FROM not in shown
        compile(shown, path.name, "exec")


def test_only_the_syntax_error_example_is_not_python() -> None:
    """tsg852.txt does not parse, by design; all other examples are .py files."""
    others = sorted(p.name for p in EXAMPLES.iterdir() if p.suffix not in {".py", ".pyi"})
    assert others == ["tsg852.txt"]
    assert REGISTRY["TSG852"].example == read_example("tsg852.txt")


def test_import_reads_no_example() -> None:
    """`import threadsafe_gen` neither imports nor reads an example (they load on demand)."""
    code = (
        "import sys, threadsafe_gen\n"
        "from threadsafe_gen._registry import read_example\n"
        "assert not [m for m in sys.modules if m.startswith('threadsafe_gen._examples')]\n"
        "assert read_example.cache_info().currsize == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_rows_cited_by_the_registry_exist() -> None:
    """Every failure-modes row a code cites has its anchor on docs/failure-modes.md."""
    text = FAILURE_MODES.read_text(encoding="utf-8")
    ids = set(re.findall(r'<a id="([^"]+)"></a>', text))
    cited = {row: row_anchor(row) for c in REGISTRY.values() for row in c.rows}
    assert cited
    assert sorted(r for r, anchor in cited.items() if anchor not in ids) == []


def test_registry_says_which_module_decides_each_code() -> None:
    """DECIDED_BY names, for every code, the one probe or lint rule module whose ``CODES``
    declare it (tests/test_probes_registry.py and test_lint_rules_registry.py check that each
    code has exactly one such module)."""
    from threadsafe_gen import _check
    from threadsafe_gen._lint.rules import RULE_MODULES
    from threadsafe_gen._registry import DECIDED_BY

    declared = {
        code: module.__name__
        for module in (*_check.DECIDERS, *RULE_MODULES)
        for code in module.CODES
    }
    assert dict(DECIDED_BY) == declared
    assert set(DECIDED_BY) == set(REGISTRY)
    assert REGISTRY["TSG101"].decided_by == "threadsafe_gen._probes.pickling"
