"""Code selection and LintOptions (threadsafe_gen/_lint/options.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from lint_cases.support import codes, getitem

from threadsafe_gen._lint import LintOptions, lint_paths, lint_source, select_codes


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("TSG351", {"TSG351"}),
        ("TSG3", {"TSG351", "TSG352", "TSG353"}),
        ("thread-safety", {"TSG351", "TSG352", "TSG353"}),
        ("next-without-lock", {"TSG351"}),
    ],
)
def test_select_codes(selector: str, expected: set[str]) -> None:
    """Selectors are codes, prefixes, categories or check names."""
    assert set(select_codes([selector])) == expected


def test_unknown_selector_is_a_clear_error() -> None:
    """A selector that matches nothing names itself and the valid kinds."""
    with pytest.raises(ValueError, match=r"select 'TSG999' matches no lint code"):
        select_codes(["TSG999"])


def test_select_and_ignore_filter_findings() -> None:
    """--select/--ignore keep and drop codes."""
    src = getitem("self.cursor += 1\nreturn self.data[self.cursor]")
    assert codes(src) == ["TSG352", "TSG353"]
    assert codes(src, select=["TSG353"]) == ["TSG353"]
    assert codes(src, ignore=["TSG35"]) == []


# --- TSG852 and selection (NOTE [ TSG852 and selection ] in threadsafe_gen/_lint/options.py) ---


def _tree_with_a_broken_file(tmp_path: Path) -> Path:
    (tmp_path / "bad.py").write_text("def load(i)\n    return i\n")
    (tmp_path / "good.py").write_text("model.fit_generator(g)\n")
    return tmp_path


def test_select_does_not_hide_a_file_that_was_not_linted(tmp_path: Path) -> None:
    """--select chooses problems, not files: TSG852 is still reported with --select TSG3."""
    root = _tree_with_a_broken_file(tmp_path)
    found = lint_paths([root], root=root, select=["TSG3"]).findings
    assert [(f.code, f.location.file if f.location else "") for f in found] == [
        ("TSG852", "bad.py")
    ]


def test_ignore_hides_tsg852_like_any_code(tmp_path: Path) -> None:
    """--ignore TSG852 (as docs/checks.md#tsg852 says) hides it; the other files still count."""
    root = _tree_with_a_broken_file(tmp_path)
    found = lint_paths([root], root=root, ignore=["TSG852"]).findings
    assert [f.code for f in found] == ["TSG652"]
    assert [f.code for f in lint_source("def f(:\n", ignore=["crash"]).findings] == []


def test_per_file_ignore_applies_to_unused_suppressions(tmp_path: Path) -> None:
    """TSG653 goes through the same filter as every code: a per-file ignore drops it."""
    (tmp_path / "a.py").write_text("x = 1  # threadsafe-gen: ignore[TSG652]\n")
    kept = lint_paths([tmp_path], root=tmp_path, report_unused_ignores=True).findings
    dropped = lint_paths(
        [tmp_path],
        root=tmp_path,
        report_unused_ignores=True,
        per_file_ignores={"a.py": ["TSG653"]},
    ).findings
    assert ([f.code for f in kept], dropped) == (["TSG653"], [])


# --- LintOptions ----------------------------------------------------------------------------


def test_options_and_keywords_lint_alike(tmp_path: Path) -> None:
    """lint_paths(paths, LintOptions(...)) reports what the same keywords report."""
    for name in ("a.py", "b_test.py", "c.py"):
        (tmp_path / name).write_text("model.fit_generator(g)\nx = 1  # threadsafe-gen: ignore\n")
    kwargs: dict[str, Any] = {
        "per_file_ignores": {"*_test.py": ["TSG652"]},
        "exclude": ["c.py"],
        "report_unused_ignores": True,
        "root": tmp_path,
        "jobs": 1,
    }
    by_keywords = lint_paths([tmp_path], **kwargs).findings
    by_options = lint_paths([tmp_path], LintOptions(**kwargs)).findings
    assert [f.to_dict() for f in by_options] == [f.to_dict() for f in by_keywords]
    assert [(f.code, f.location.file if f.location else "") for f in by_options] == [
        ("TSG652", "a.py"),
        ("TSG653", "a.py"),
        ("TSG653", "b_test.py"),
    ]


def test_options_merge_with_dataclasses_replace() -> None:
    """Options are frozen; a later layer (command-line flags) replaces fields."""
    # Lists, as a config file gives them, are stored as tuples.
    base = LintOptions(select=["TSG3"], exclude=["build/*"])  # type: ignore[arg-type]
    merged = dataclasses.replace(base, ignore=["TSG353"], jobs=2)  # type: ignore[arg-type]
    assert (merged.select, merged.ignore, merged.exclude, merged.jobs) == (
        ("TSG3",),
        ("TSG353",),
        ("build/*",),
        2,
    )
    assert merged.codes == {"TSG351", "TSG352", "TSG852"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        merged.jobs = 3  # type: ignore[misc]


def test_options_normalise_a_lone_string_and_paths() -> None:
    """ignore="TSG151" is one code, not six letters; root becomes a Path."""
    opts = LintOptions(select="TSG1", ignore="TSG151", root="src")  # type: ignore[arg-type]
    assert (opts.select, opts.ignore, opts.root) == (("TSG1",), ("TSG151",), Path("src"))
    assert opts.codes == {"TSG152", "TSG852"}  # TSG1 less TSG151, and TSG852 always


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"select": ["TSG999"]}, ValueError, r"select 'TSG999' matches no lint code"),
        ({"ignore": ["nope"]}, ValueError, r"ignore 'nope' matches no lint code"),
        ({"per_file_ignores": {"*.py": ["TSG999"]}}, ValueError, r"matches no lint code"),
        ({"jobs": 0}, ValueError, r"jobs must be >= 1, got 0"),
        ({"jobs": 1.5}, TypeError, r"expected jobs to be an int"),
        ({"select": [151]}, TypeError, r"expected select to hold strings"),
        ({"per_file_ignores": ["*.py"]}, TypeError, r"per_file_ignores to be a mapping"),
        ({"report_unused_ignores": "yes"}, TypeError, r"report_unused_ignores to be True"),
    ],
)
def test_options_are_validated_when_built(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    """A bad setting fails when the options are built, naming the setting."""
    with pytest.raises(error, match=match):
        LintOptions(**kwargs)


def test_keywords_still_validate_jobs(tmp_path: Path) -> None:
    """The keyword form builds LintOptions too: jobs=0 is the same ValueError as before."""
    with pytest.raises(ValueError, match=r"jobs must be >= 1"):
        lint_paths([tmp_path], jobs=0)


def test_options_and_keywords_together_are_refused(tmp_path: Path) -> None:
    """Passing options= and a keyword would leave one silently unused: TypeError."""
    with pytest.raises(TypeError, match=r"got options= and also jobs="):
        lint_paths([tmp_path], LintOptions(), jobs=2)
    with pytest.raises(TypeError, match=r"got options= and also select="):
        lint_source("x = 1\n", "x.py", LintOptions(), select=["TSG1"])


def test_lint_source_takes_options_with_per_file_ignores() -> None:
    """lint_source applies an options' per-file ignores to its filename."""
    opts = LintOptions(per_file_ignores={"scripts/*.py": ["TSG652"]})  # type: ignore[dict-item]  # a list, as in a config file
    assert [f.code for f in lint_source("model.fit_generator(g)\n", "a.py", opts).findings] == [
        "TSG652"
    ]
    assert lint_source("model.fit_generator(g)\n", "scripts/t.py", opts).findings == []
