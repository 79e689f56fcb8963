"""File discovery (threadsafe_gen/_lint/discovery.py): folders, exclusions, shown paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadsafe_gen._lint import lint_paths


def test_location_is_relative_and_one_based(tmp_path: Path) -> None:
    """Locations are relative to the root with '/' and 1-based line and column."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "train.py").write_text("x = 1\n  # c\nif x:\n    model.fit_generator(g)\n")
    (finding,) = lint_paths([tmp_path], root=tmp_path).findings
    loc = finding.location
    assert loc is not None
    assert (loc.file, loc.line, loc.column, loc.end_line, loc.end_column) == (
        "sub/train.py",
        4,
        5,
        4,
        27,
    )


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    """A path that does not exist raises FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match=r"nope\.py"):
        lint_paths([tmp_path / "nope.py"])


def test_folders_skip_virtualenvs_and_hidden_dirs(tmp_path: Path) -> None:
    """.venv, hidden folders and __pycache__ are skipped while expanding a folder."""
    for d in (".venv", ".hidden", "__pycache__", "src"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "m.py").write_text("model.fit_generator(g)\n")
    result = lint_paths([tmp_path], root=tmp_path)
    assert [f.location.file for f in result.findings if f.location] == ["src/m.py"]


def test_per_file_ignores_and_exclude(tmp_path: Path) -> None:
    """per_file_ignores globs drop codes for matching files; exclude skips files."""
    for name in ("a.py", "b_test.py", "c.py"):
        (tmp_path / name).write_text("model.fit_generator(g)\n")
    result = lint_paths(
        [tmp_path], root=tmp_path, per_file_ignores={"*_test.py": ["TSG652"]}, exclude=["c.py"]
    )
    assert [f.location.file for f in result.findings if f.location] == ["a.py"]
