"""The lint engine: registry examples, files that do not parse, worker processes, whole trees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lint_cases.support import LINT_CODES, codes

from threadsafe_gen import REGISTRY
from threadsafe_gen._lint import lint_paths


@pytest.mark.parametrize("code", [c for c in LINT_CODES if c not in {"TSG653", "TSG852"}])
def test_registry_example_triggers_its_code(code: str) -> None:
    """Each lint code's documented failing example produces that code."""
    assert code in codes(REGISTRY[code].example)


@pytest.mark.parametrize("code", LINT_CODES)
def test_registry_fixed_example_is_clean(code: str) -> None:
    """Each lint code's documented fix produces no finding at all."""
    assert codes(REGISTRY[code].fixed, report_unused_ignores=True) == []


def test_syntax_error_is_one_finding_and_the_run_continues(tmp_path: Path) -> None:
    """A file that does not parse gives one TSG852 and the other files are still linted."""
    (tmp_path / "bad.py").write_text("def load(i)\n    return i\n")
    (tmp_path / "good.py").write_text("model.fit_generator(g)\n")
    result = lint_paths([tmp_path], root=tmp_path)
    assert [(f.code, f.location.file if f.location else "") for f in result.findings] == [
        ("TSG852", "bad.py"),
        ("TSG652", "good.py"),
    ]


def test_parallel_and_serial_runs_agree(tmp_path: Path) -> None:
    """jobs=2 (worker processes) reports exactly what jobs=1 reports."""
    for i in range(70):
        (tmp_path / f"m{i}.py").write_text("model.fit_generator(g)\n" if i % 7 == 0 else "x = 1\n")
    serial = lint_paths([tmp_path], root=tmp_path, jobs=1)
    parallel = lint_paths([tmp_path], root=tmp_path, jobs=2)
    assert [f.to_dict() for f in serial.findings] == [f.to_dict() for f in parallel.findings]
    assert len(serial.findings) == 10


def test_lint_never_imports_user_code(tmp_path: Path) -> None:
    """Linting a module that would exit on import runs nothing (checked in a fresh process)."""
    (tmp_path / "boom.py").write_text("import sys\nsys.exit(3)\nmodel.fit_generator(g)\n")
    code = f"from threadsafe_gen._lint import lint_paths; print(len(lint_paths([{str(tmp_path)!r}]).findings))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "1"


def test_lint_of_this_package_is_clean() -> None:
    """threadsafe_gen's own source has no findings (dogfooding). The registry's examples
    (threadsafe_gen/_examples) are deliberately broken user code, tested on their own in
    tests/test_registry_examples.py."""
    root = Path(__file__).parents[1]
    result = lint_paths([root / "threadsafe_gen"], root=root, exclude=["threadsafe_gen/_examples"])
    assert [str(f) for f in result.findings] == []


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.parametrize("package", ["keras", "tf_keras"])
def test_whole_package_lints_without_crashing(package: str) -> None:
    """The installed keras and tf_keras packages lint without a crash or a syntax-error finding."""
    import importlib.util

    spec = importlib.util.find_spec(package)  # locates the folder without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed in this environment")
    folder = Path(next(iter(spec.submodule_search_locations)))
    result = lint_paths([folder], root=folder.parent)
    assert result.files > 500
    assert "TSG852" not in result.codes()
    # Every finding is about a data-loading class or function, never a crash of the linter.
    assert all(f.location is not None for f in result.findings)


def test_parallel_run_from_a_threaded_process(tmp_path: Path) -> None:
    """With other threads alive, workers are spawned (no fork of a threaded process); same result."""
    import threading

    for i in range(66):
        (tmp_path / f"m{i}.py").write_text("model.fit_generator(g)\n" if i % 11 == 0 else "x = 1\n")
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, daemon=True)
    helper.start()
    try:
        result = lint_paths([tmp_path], root=tmp_path, jobs=2)
    finally:
        stop.set()
        helper.join()
    assert [f.location.file for f in result.findings if f.location] == [
        f"m{i}.py" for i in (0, 11, 22, 33, 44, 55)
    ]


def test_examples_lint_clean_except_the_problem_catalog() -> None:
    """examples/ lints without a crash, and only the deliberately broken loaders have findings."""
    root = Path(__file__).parents[1]
    if not (root / "examples").is_dir():
        pytest.skip("no examples/ folder")
    result = lint_paths([root / "examples"], root=root)
    files = {f.location.file for f in result.findings if f.location}
    assert {f for f in files if "problem" not in f} == set()
    assert "TSG852" not in result.codes()
