"""The code base keeps the shape issue 9 gave it: measured here, so that it cannot drift.

- no import cycle among the package's modules, counting imports inside functions;
- no function over 80 lines of code, no module over 1,000 lines;
- ruff's linter and formatter (Markdown code blocks included) are clean on the repository;
- mypy (strict, configured in pyproject.toml) is clean on the package and the tests;
- the tests' own loaders and helpers (tests/loaders/, tests/helpers/) do not import each other
  in a cycle either: spawned children re-import them by name.

The registry's examples (``threadsafe_gen/_examples``) are user-style code and are left out of
the size measures; ruff still checks them.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "threadsafe_gen"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 1000


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if "_examples" in rel.parts:
            continue
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _import_graph() -> dict[str, set[str]]:
    modules = dict(_modules())
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):  # every import, at module level or inside a function
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node)
                # `from . import errors` names a module; `from ._text import one_line` names
                # something in the module _text.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith("threadsafe_gen"):
                    graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle() -> None:
    """Package ``__init__`` modules re-export their children, so an edge into a package's
    ``__init__`` from one of its own children would be a cycle too: none is allowed."""
    graph = _import_graph()
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _test_support_graph() -> dict[str, set[str]]:
    """Imports among tests/loaders/ and tests/helpers/, by the names the tests import them by."""
    modules: dict[str, Path] = {}
    for package in ("loaders", "helpers"):
        for path in sorted((ROOT / "tests" / package).glob("*.py")):
            modules[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def test_no_import_cycle_among_the_tests_loaders_and_helpers() -> None:
    graph = _test_support_graph()
    assert "loaders.basic" in graph, "tests/loaders/ moved: update this test"
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, source: list[str]) -> int:
    """Lines of code in a function: not blank, not a comment, not its docstring."""
    doc: set[int] = set()
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        doc = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    count = 0
    for lineno in range(node.lineno, (node.end_lineno or node.lineno) + 1):
        text = source[lineno - 1].strip()
        if text and not text.startswith("#") and lineno not in doc:
            count += 1
    return count


def test_no_long_functions_or_modules() -> None:
    too_long: list[str] = []
    for name, path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        if len(lines) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(lines)} lines (module)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = _code_lines(node, lines)
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name} (line {node.lineno}): {n} lines of code")
    assert too_long == []


def _tool(name: str) -> list[str]:
    """The venv's *name* executable (else the one on PATH), or skip: it is in the [dev] extra."""
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (it is in the [dev] extra)")
    return [found]


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff_is_clean(command: list[str]) -> None:
    """``ruff check .`` and ``ruff format --check .`` (>= 0.16 also formats Markdown blocks)."""
    proc = subprocess.run(
        [*_tool("ruff"), *command], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean() -> None:
    """``mypy`` as configured in pyproject.toml: strict, on threadsafe_gen/ and tests/ (about 15 s
    without a cache)."""
    proc = subprocess.run(
        _tool("mypy"), cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
