"""[tool.threadsafe_gen] in pyproject.toml: discovery, parsing into LintOptions/CheckOptions, and clear errors."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from threadsafe_gen._check import CheckOptions
from threadsafe_gen._config import NOT_CONFIGURABLE, find_pyproject, load_config, option_kinds
from threadsafe_gen._lint.options import LintOptions
from threadsafe_gen.errors import ConfigError

FULL = """
[project]
name = "demo"

[tool.threadsafe_gen]
select = ["TSG3", "TSG151"]
ignore = ["TSG652"]
exclude = ["legacy/*"]
fail-on = "warning"
report_unused_ignores = true

[tool.threadsafe_gen.per-file-ignores]
"tests/*" = ["TSG353"]

[tool.threadsafe_gen.check]
workers = 4
start-method = "spawn"
timeout = 30
use-multiprocessing = true
max-batches = 8
"""


def write(folder: Path, text: str) -> Path:
    """Write a pyproject.toml into *folder*."""
    path = folder / "pyproject.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_full_table_is_parsed(tmp_path: Path) -> None:
    """Every documented key is read, kebab-case and snake_case alike."""
    write(tmp_path, FULL)
    cfg = load_config(start=tmp_path)
    assert (cfg.path, cfg.root) == (tmp_path / "pyproject.toml", tmp_path.resolve())
    lint = cfg.lint_options()
    assert (lint.select, lint.ignore, lint.exclude) == (
        ("TSG3", "TSG151"),
        ("TSG652",),
        ("legacy/*",),
    )
    assert (cfg.fail_on, lint.report_unused_ignores) == ("warning", True)
    assert dict(lint.per_file_ignores) == {"tests/*": ("TSG353",)}
    assert lint.root == tmp_path.resolve()
    assert cfg.check_options() == CheckOptions(
        workers=4, use_multiprocessing=True, start_method="spawn", timeout=30.0, max_batches=8
    )


def test_keys_are_the_options_fields() -> None:
    """The valid keys are the fields of LintOptions and CheckOptions (besides fail-on and
    the check table): a field added there is a key here without another list to update."""
    lint = {f.name for f in dataclasses.fields(LintOptions)} - NOT_CONFIGURABLE
    check = {f.name for f in dataclasses.fields(CheckOptions)} - NOT_CONFIGURABLE
    assert set(option_kinds(LintOptions)) - NOT_CONFIGURABLE == lint
    assert set(option_kinds(CheckOptions)) - NOT_CONFIGURABLE == check


def test_found_by_walking_up(tmp_path: Path) -> None:
    """A subfolder finds the project's pyproject.toml; one without the table is skipped."""
    write(tmp_path, FULL)
    sub = tmp_path / "pkg" / "deep"
    sub.mkdir(parents=True)
    write(tmp_path / "pkg", "[project]\nname = 'inner'\n")
    assert find_pyproject(sub) == (tmp_path / "pyproject.toml").resolve()


def test_no_config_gives_defaults(tmp_path: Path) -> None:
    """Without any table, defaults apply and the root is the start folder."""
    cfg = load_config(start=tmp_path)
    assert (cfg.path, cfg.fail_on, cfg.root) == (None, None, tmp_path.resolve())
    assert (cfg.lint_options(), cfg.check_options()) == (
        LintOptions(root=tmp_path.resolve()),
        CheckOptions(),
    )


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    """A misspelt key is an error that names the file, the key and the likely intended key."""
    path = write(tmp_path, "[tool.threadsafe_gen]\nfail_no = 'error'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: unknown key 'fail_no' in [tool.threadsafe_gen]; valid keys: select, ignore, "
        "per-file-ignores, exclude, report-unused-ignores, max-file-size, fail-on, check. Did you mean 'fail-on'?"
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "[tool.threadsafe_gen]\nfail-on = 'fatal'\n",
            "fail-on must be one of error, warning, info, got 'fatal'",
        ),
        ("[tool.threadsafe_gen]\nselect = 3\n", "select must be a list of strings, got 3"),
        (
            "[tool.threadsafe_gen.check]\nworkers = 0\n",
            r"workers in \[tool.threadsafe_gen.check\] is not valid: .*expected workers >= 1, got 0",
        ),
        (
            "[tool.threadsafe_gen.check]\nstart-method = 'thread'\n",
            "start-method in .* expected start_method to be 'fork', 'spawn' or 'forkserver'",
        ),
        (
            "[tool.threadsafe_gen]\nignore = ['TSG999']\n",
            "ignore in .* ignore 'TSG999' matches no lint code",
        ),
        ("[tool.threadsafe_gen.check]\ntimeout = true\n", "expected timeout to be a number"),
        ("[tool.threadsafe_gen.check]\nworkerz = 2\n", "Did you mean 'workers'"),
        ("[tool.threadsafe_gen\n", "is not valid TOML"),
    ],
)
def test_bad_values_are_clear_errors(tmp_path: Path, text: str, match: str) -> None:
    """Wrong types and values say what was expected."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    """--config with a path that does not exist is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_comma_separated_string_is_accepted(tmp_path: Path) -> None:
    """select = "TSG3,TSG151" is read like a list."""
    path = write(tmp_path, "[tool.threadsafe_gen]\nselect = 'TSG3, TSG151'\n")
    assert load_config(path).lint_options().select == ("TSG3", "TSG151")


def test_dependency_mention_is_not_a_table(tmp_path: Path) -> None:
    """A pyproject.toml that only lists threadsafe-gen as a dependency is not our config."""
    write(tmp_path, '[project]\nname = "x"\ndependencies = ["threadsafe-gen"]\n')
    assert find_pyproject(tmp_path) is None
