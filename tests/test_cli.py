"""The threadsafe-gen command line: lint and check, exit codes, config, target resolution."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from threadsafe_gen._cli import UsageError, build_parser, main, resolve_target

BAD = "model.fit_generator(g)\n"  # one TSG652 (warning)
WORSE = "import threading\nclass It:\n    def __init__(self):\n        self.lock = threading.Lock()\n    def __next__(self):\n        return 1\n"

TARGETS = """
import threading
import numpy as np

class Good:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if not 0 <= i < 4:
            raise IndexError(i)
        return np.arange(6, dtype=np.float32).reshape(2, 3) + 10 * i, np.zeros((2, 1), dtype=np.float32)

class Cursor(Good):
    def __init__(self):
        self.cursor = 0

    def __getitem__(self, i):
        if not 0 <= i < 4:
            raise IndexError(i)
        self.cursor += 1
        return np.arange(6, dtype=np.float32).reshape(2, 3) + 10 * self.cursor, np.zeros((2, 1), dtype=np.float32)

def make_good():
    return Good()

def make_with_args(path):
    return Good()

def broken_factory():
    raise RuntimeError("no data here")

good = Good()
"""


def run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m threadsafe_gen ARGS` in *cwd* (a fresh process, as users run it)."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "threadsafe_gen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a warning-only file and an error file."""
    (tmp_path / "warn.py").write_text(BAD)
    (tmp_path / "err.py").write_text(WORSE)
    return tmp_path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in-process in tmp_path; restore sys.path and drop modules imported from it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        mod = sys.modules.get(name)
        if str(getattr(mod, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


# --- lint -------------------------------------------------------------------------------


def test_lint_exit_1_on_errors_and_summary_last(project: Path) -> None:
    """An error finding exits 1; text output ends with the summary line."""
    out = run(["lint", "."], project)
    assert (
        out.returncode,
        out.stdout.splitlines()[-1].startswith("Found 2 problems in 2 of 2 files"),
    ) == (1, True)


def test_lint_fail_on_controls_exit_code(project: Path) -> None:
    """Warnings alone exit 0 by default and 1 with --fail-on warning."""
    assert main(["lint", str(project / "warn.py")]) == 0
    assert main(["lint", str(project / "warn.py"), "--fail-on", "warning"]) == 1


def test_lint_select_and_ignore_flags(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--select and --ignore take comma-separated selectors."""
    assert main(["lint", str(project), "--ignore", "TSG351", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in data["findings"]] == ["TSG652"]
    assert main(["lint", str(project), "--select", "thread-safety,TSG1", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in data["findings"]] == ["TSG351"]


def test_lint_bad_selector_is_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A selector matching nothing exits 2 with a message naming it."""
    assert main(["lint", str(project), "--select", "TSG999"]) == 2
    assert "select 'TSG999' matches no lint code" in capsys.readouterr().err


def test_lint_missing_path_is_usage_error(tmp_path: Path) -> None:
    """A path that does not exist exits 2 and says so on stderr."""
    out = run(["lint", "nope.py"], tmp_path)
    assert (out.returncode, out.stderr.strip()) == (
        2,
        "threadsafe-gen: error: path 'nope.py' does not exist; pass Python files or folders to lint",
    )


def test_lint_reads_pyproject_config(project: Path) -> None:
    """[tool.threadsafe_gen] ignore and fail-on apply; flags override them."""
    (project / "pyproject.toml").write_text(
        '[tool.threadsafe_gen]\nignore = ["TSG351"]\nfail-on = "warning"\n'
    )
    assert run(["lint", "."], project).returncode == 1  # the TSG652 warning fails
    assert run(["lint", ".", "--fail-on", "error"], project).returncode == 0


def test_lint_bad_config_is_usage_error(project: Path) -> None:
    """A config error exits 2 with the ConfigError message."""
    (project / "pyproject.toml").write_text("[tool.threadsafe_gen]\nselcet = ['TSG3']\n")
    out = run(["lint", "."], project)
    assert (out.returncode, "Did you mean 'select'?" in out.stderr) == (2, True)


def test_lint_per_file_ignores_from_config(project: Path) -> None:
    """per-file-ignores globs (relative to the pyproject.toml) drop codes for matching files."""
    (project / "pyproject.toml").write_text(
        '[tool.threadsafe_gen.per-file-ignores]\n"err.py" = ["TSG351"]\n'
    )
    out = run(["lint", ".", "--format", "json"], project)
    assert [f["code"] for f in json.loads(out.stdout)["findings"]] == ["TSG652"]


def test_lint_output_file(project: Path) -> None:
    """-o writes the report to a file and nothing to stdout."""
    out = run(["lint", ".", "--format", "sarif", "-o", "out.sarif"], project)
    sarif = json.loads((project / "out.sarif").read_text())
    assert (out.stdout, sarif["version"], len(sarif["runs"][0]["results"])) == ("", "2.1.0", 2)


def test_report_unused_ignores_flag(tmp_path: Path) -> None:
    """--report-unused-ignores turns a stale suppression into TSG653."""
    (tmp_path / "m.py").write_text("x = 1  # threadsafe-gen: ignore[TSG351]\n")
    assert main(["lint", str(tmp_path / "m.py"), "--fail-on", "warning"]) == 0
    assert (
        main(["lint", str(tmp_path / "m.py"), "--report-unused-ignores", "--fail-on", "warning"])
        == 1
    )


def test_help_documents_exit_codes() -> None:
    """--help's epilog lists the three exit codes."""
    text = build_parser().format_help()
    assert "0  no finding at or above --fail-on" in text
    assert "2  usage error" in text


def test_console_script_runs() -> None:
    """The `threadsafe-gen` console script is installed and prints its version."""
    from threadsafe_gen import __version__

    exe = Path(sys.executable).with_name("threadsafe-gen")
    out = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == f"threadsafe-gen {__version__}"


def test_no_subcommand_is_usage_error(tmp_path: Path) -> None:
    """Without a subcommand argparse exits 2 with usage."""
    out = run([], tmp_path)
    assert (out.returncode, "usage: threadsafe-gen" in out.stderr) == (2, True)


# --- check: target resolution (in-process, nothing is checked) ---------------------------------


def test_resolve_module_attr(in_tmp: Path) -> None:
    """module:attr imports from the current directory and returns the object."""
    (in_tmp / "tsg_targets_a.py").write_text(TARGETS)
    loader, module_file = resolve_target("tsg_targets_a:good")
    assert (type(loader).__name__, module_file) == ("Good", str(in_tmp / "tsg_targets_a.py"))


def test_resolve_zero_arg_factory_and_class(in_tmp: Path) -> None:
    """A zero-argument function or class is called to build the loader."""
    (in_tmp / "tsg_targets_b.py").write_text(TARGETS)
    assert type(resolve_target("tsg_targets_b:make_good")[0]).__name__ == "Good"
    assert type(resolve_target("tsg_targets_b:Cursor")[0]).__name__ == "Cursor"


def test_resolve_file_path_target(in_tmp: Path) -> None:
    """path/to/file.py:attr imports the file by module name."""
    (in_tmp / "sub").mkdir()
    (in_tmp / "sub" / "tsg_targets_c.py").write_text(TARGETS)
    loader, _ = resolve_target("sub/tsg_targets_c.py:good")
    assert type(loader).__module__ == "tsg_targets_c"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tsg_targets_d", "target 'tsg_targets_d' has no ':'; expected MODULE:NAME"),
        (
            "tsg_targets_d.py",
            "target 'tsg_targets_d.py' names a file but no object in it; add ':NAME', e.g. 'tsg_targets_d.py:Good'",
        ),
        (
            "tsg_targets_d:gooood",
            "'tsg_targets_d' has no attribute 'gooood'. Did you mean 'good' or 'Good'?",
        ),
        (
            "tsg_targetz_d:good",
            "cannot import module 'tsg_targetz_d': no module named 'tsg_targetz_d'. Did you mean 'tsg_targets_d'?",
        ),
        ("tsg_targets_d:make_with_args", "'tsg_targets_d:make_with_args' needs arguments (path)"),
        (
            "tsg_targets_d:broken_factory",
            "calling 'tsg_targets_d:broken_factory'() to build the loader raised RuntimeError: no data here",
        ),
        ("missing_dir/x.py:good", "target file 'missing_dir/x.py' does not exist"),
        ("tsg_targets_d.py:", "must be MODULE:NAME with both parts"),
        (
            "tsg_targets_d:Good".replace("d:", "d_missing:"),
            "cannot import module 'tsg_targets_d_missing'",
        ),
        ("sub/tsg_targets_d:Good", "did you mean 'sub/tsg_targets_d.py:Good'?"),
        (
            "sub.tsg_targets_d.py:Good",
            "mixes a module name and a file name; use 'sub.tsg_targets_d:Good' or 'sub/tsg_targets_d.py:Good'",
        ),
    ],
)
def test_resolve_errors_are_helpful(in_tmp: Path, spec: str, message: str) -> None:
    """Wrong targets give usage errors with close matches and the common slips named."""
    (in_tmp / "tsg_targets_d.py").write_text(TARGETS)
    (in_tmp / "sub").mkdir()
    (in_tmp / "sub" / "tsg_targets_d.py").write_text(TARGETS)
    with pytest.raises(UsageError) as info:
        resolve_target(spec)
    assert message in str(info.value)


def test_import_error_in_target_is_reported(in_tmp: Path) -> None:
    """An exception while importing the target is a usage error naming it and where it happened."""
    (in_tmp / "tsg_targets_e.py").write_text("x = 1\nraise ValueError('bad config')\n")
    with pytest.raises(
        UsageError,
        match=r"importing 'tsg_targets_e' raised ValueError: bad config \(at .*tsg_targets_e.py:2\)",
    ):
        resolve_target("tsg_targets_e:x")


def test_target_calling_sys_exit_is_reported(in_tmp: Path) -> None:
    """A script that calls sys.exit at import time gets the __main__ guard hint."""
    (in_tmp / "tsg_targets_f.py").write_text("import sys\nsys.exit(3)\n")
    with pytest.raises(UsageError, match=r"called sys.exit\(3\).*__name__ == \"__main__\""):
        resolve_target("tsg_targets_f:x")


# --- check: end to end (real check_loader in a fresh process) ----------------------------------------


@pytest.mark.slow
def test_check_clean_loader_exits_0(tmp_path: Path) -> None:
    """A pure loader checked with 2 threads exits 0 and ends with OK."""
    (tmp_path / "targets.py").write_text(TARGETS)
    out = run(["check", "targets:make_good", "--workers", "2", "--max-batches", "4"], tmp_path)
    assert (out.returncode, out.stdout.splitlines()[-1]) == (
        0,
        "OK: 0 errors, 0 warnings, 0 info",
    ), out.stderr


@pytest.mark.slow
def test_check_stateful_loader_exits_1_with_sarif(tmp_path: Path) -> None:
    """A cursor-based loader fails --fail-on warning; SARIF points at targets.py, relative."""
    (tmp_path / "targets.py").write_text(TARGETS)
    args = [
        "check",
        "targets:Cursor",
        "--workers",
        "4",
        "--format",
        "sarif",
        "--fail-on",
        "warning",
    ]
    out = run(args, tmp_path)
    sarif = json.loads(out.stdout)
    results = sarif["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert (out.returncode, uris) == (1, {"targets.py"}), out.stderr
    assert "TSG303" in {r["ruleId"] for r in results}


@pytest.mark.slow
def test_check_uses_config_defaults(tmp_path: Path) -> None:
    """[tool.threadsafe_gen.check] workers is used when --workers is not given."""
    (tmp_path / "targets.py").write_text(TARGETS)
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.threadsafe_gen.check]
            workers = 3
            max-batches = 4
            """
        )
    )
    out = run(["check", "targets:good", "--format", "json"], tmp_path)
    assert json.loads(out.stdout)["settings"]["workers"] == 3, out.stderr


def test_flags_are_the_options_fields() -> None:
    """Every LintOptions / CheckOptions field a flag can give is a flag named after it."""
    from threadsafe_gen._check import CheckOptions
    from threadsafe_gen._cli import flag_fields
    from threadsafe_gen._lint.options import LintOptions

    parser = build_parser()
    subparsers = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
    actions: dict[str, argparse.ArgumentParser] = subparsers.choices  # type: ignore[assignment]
    for command, cls in (("lint", LintOptions), ("check", CheckOptions)):
        flags = {a.dest for a in actions[command]._actions if a.option_strings}
        assert set(flag_fields(cls)) <= flags
    assert set(flag_fields(CheckOptions)) == {
        "workers",
        "use_multiprocessing",
        "start_method",
        "max_batches",
        "timeout",
        "batch_timeout",
        "ignore",
    }
    assert set(flag_fields(LintOptions)) == {
        "select",
        "ignore",
        "report_unused_ignores",
        "jobs",
        "max_file_size",
    }


def test_check_flags_merge_over_the_config(tmp_path: Path) -> None:
    """Flags replace the configured values, except --ignore, which adds to them."""
    import argparse

    from threadsafe_gen._cli import _merge_flags
    from threadsafe_gen._config import load_config

    (tmp_path / "pyproject.toml").write_text(
        '[tool.threadsafe_gen.check]\nworkers = 3\nmax-batches = 4\nignore = ["TSG401"]\n'
    )
    configured = load_config(start=tmp_path).check_options()
    args = build_parser().parse_args(["check", "x:y", "--workers", "2", "--ignore", "TSG303"])
    merged = _merge_flags(args, configured)
    assert (merged.workers, merged.max_batches, merged.ignore) == (
        2,
        4,
        frozenset({"TSG401", "TSG303"}),
    )
    with pytest.raises(UsageError, match="start_method"):
        _merge_flags(argparse.Namespace(start_method="thread"), configured)


def _alive(pid: int) -> bool:
    """Whether process *pid* still runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _gone(pids: list[int], seconds: float = 5.0) -> bool:
    """Whether every process of *pids* has ended within *seconds* (SIGKILL takes a moment)."""
    import time

    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


EXITS_AT_IMPORT = """
import os
open("pids", "w").write(str(os.getpid()))
os._exit(0)
"""

BLOCKS_AT_IMPORT = """
import os, subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open("pids", "w").write(f"{os.getpid()} {helper.pid}")
time.sleep(600)
"""


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_check_target_that_exits_at_import_fails(tmp_path: Path, fmt: str) -> None:
    """A module calling os._exit(0) at import is a usage error (exit 2, nothing on stdout),
    not a clean check: CI must not read it as passing."""
    (tmp_path / "exits.py").write_text(EXITS_AT_IMPORT)
    out = run(["check", "exits:loader", "--format", fmt], tmp_path, timeout=120)
    assert (out.returncode, out.stdout) == (2, ""), out.stderr
    assert out.stderr.startswith(
        "threadsafe-gen: error: the process importing 'exits:loader' exited with code 0 "
        "before the check could start, so nothing was checked"
    ), out.stderr
    assert "os._exit()" in out.stderr
    assert _gone([int(p) for p in (tmp_path / "pids").read_text().split()])


def test_check_target_that_blocks_at_import_is_cut_at_the_timeout(tmp_path: Path) -> None:
    """A module that blocks at import is stopped at --timeout (exit 2, a message naming the
    timeout), with the process it started: nothing is left running."""
    import time

    (tmp_path / "blocks.py").write_text(BLOCKS_AT_IMPORT)
    start = time.monotonic()
    out = run(
        ["check", "blocks:loader", "--timeout", "2", "--format", "json"], tmp_path, timeout=120
    )
    took = time.monotonic() - start
    assert (out.returncode, out.stdout) == (2, ""), out.stderr
    assert out.stderr.startswith(
        "threadsafe-gen: error: importing 'blocks:loader' (or calling its factory) did not "
        "finish within 2 s (--timeout), so nothing was checked"
    ), out.stderr
    assert took < 60, took
    assert _gone([int(p) for p in (tmp_path / "pids").read_text().split()])


def test_check_bad_target_exits_2(tmp_path: Path) -> None:
    """A wrong target exits 2 with the close match on stderr."""
    (tmp_path / "targets.py").write_text(TARGETS)
    out = run(["check", "targets:god"], tmp_path)
    assert (out.returncode, out.stderr.strip()) == (
        2,
        "threadsafe-gen: error: 'targets' has no attribute 'god'. Did you mean 'good'?",
    )


# --- docs/cli.md: the documented commands run and print what the page says ------------------------

DOCS_CLI = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
HOOKS = Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml"


def marked_block(name: str) -> str:
    """The fenced block right after `<!-- cli-test: NAME -->` in docs/cli.md."""
    import re

    text = DOCS_CLI.read_text(encoding="utf-8")
    m = re.search(rf"<!-- cli-test: {re.escape(name)} -->\n```[a-z]*\n(.*?)```", text, re.S)
    assert m is not None, f"docs/cli.md has no block marked {name!r}"
    return m.group(1)


def test_documented_configuration_loads_as_described(tmp_path: Path) -> None:
    """The `[tool.threadsafe_gen]` example in docs/cli.md is valid and means what it says."""
    from threadsafe_gen._config import load_config

    (tmp_path / "pyproject.toml").write_text(marked_block("config"), encoding="utf-8")
    config = load_config(start=tmp_path)
    lint = config.lint_options()
    assert (lint.select, lint.ignore, lint.exclude) == (
        ("TSG1", "TSG3", "TSG551"),
        ("TSG652",),
        ("legacy/*",),
    )
    assert (config.fail_on, lint.report_unused_ignores) == ("warning", True)
    assert dict(lint.per_file_ignores) == {"tests/*": ("TSG353", "TSG551")}
    check = config.check_options()
    assert (check.workers, check.use_multiprocessing, check.start_method) == (4, True, "spawn")
    assert (check.timeout, check.max_batches, check.ignore) == (120.0, 32, frozenset({"TSG401"}))


def run_documented(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a documented `threadsafe-gen ...` command with this environment's console script."""
    import shlex

    argv = shlex.split(command)
    assert argv[0] == "threadsafe-gen"
    exe = Path(sys.executable).with_name("threadsafe-gen")
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [str(exe), *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def normalise(text: str) -> str:
    """Timings vary from run to run: compare them as X.XX."""
    import re

    return re.sub(r"\d+\.\d\d s\b", "X.XX s", text).rstrip("\n")


@pytest.fixture
def documented_project(tmp_path: Path) -> Path:
    """A folder with docs/cli.md's loader.py."""
    (tmp_path / "loader.py").write_text(marked_block("file loader.py"))
    return tmp_path


def test_documented_json_output_has_the_shape_the_page_shows(documented_project: Path) -> None:
    """docs/cli.md's JSON sample: the same keys, counts and first finding as the real output
    (the page shortens the message and hint with "...")."""
    documented = json.loads(marked_block("json"))
    out = run_documented("threadsafe-gen lint loader.py --format json", documented_project)
    real = json.loads(out.stdout)
    assert out.returncode == 1
    assert real.keys() == documented.keys()
    assert (real["schema_version"], real["command"], real["tool"]["name"]) == (
        documented["schema_version"],
        documented["command"],
        documented["tool"]["name"],
    )
    counts = ("files", "findings", "errors", "warnings", "info")
    assert real["summary"].keys() == documented["summary"].keys()
    assert [real["summary"][k] for k in counts] == [documented["summary"][k] for k in counts]
    first, shown = real["findings"][0], documented["findings"][0]
    assert first.keys() == shown.keys()
    same = ("code", "name", "title", "category", "severity", "path", "docs", "location", "details")
    assert [first[k] for k in same] == [shown[k] for k in same]
    for key in ("message", "hint"):
        assert first[key].startswith(shown[key].split(" ...")[0])


def test_documented_lint_console_output(documented_project: Path) -> None:
    """The console example in docs/cli.md prints exactly what the page shows."""
    lines = marked_block("console").rstrip("\n").splitlines()
    assert lines[0].startswith("$ ")
    out = run_documented(lines[0][2:], documented_project)
    assert (out.returncode, normalise(out.stdout)) == (1, normalise("\n".join(lines[1:])))


def test_github_actions_snippet_runs_and_prints_documented_output(documented_project: Path) -> None:
    """The workflow's threadsafe-gen step works and prints the documented annotations."""
    import yaml

    workflow = yaml.safe_load(marked_block("github-actions"))
    steps = workflow["jobs"]["threadsafe-gen"]["steps"]
    commands = [s["run"] for s in steps if str(s.get("run", "")).startswith("threadsafe-gen")]
    assert len(commands) == 1
    out = run_documented(commands[0], documented_project)
    expected = marked_block("github-actions-output").rstrip("\n")
    assert (out.returncode, out.stdout.rstrip("\n")) == (1, expected)


def test_github_actions_sarif_step_writes_the_file_it_uploads(documented_project: Path) -> None:
    """The SARIF steps: the lint command writes the file the upload step names, valid SARIF."""
    import jsonschema
    import yaml

    run, upload = yaml.safe_load(marked_block("github-actions-sarif"))
    out = run_documented(run["run"], documented_project)
    assert out.returncode == 1, out.stderr
    sarif = json.loads((documented_project / upload["with"]["sarif_file"]).read_text())
    schema = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema)
    rules = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert rules == {"TSG151", "TSG751"}


def test_pre_commit_snippet_matches_hook_and_documented_output(documented_project: Path) -> None:
    """The pre-commit snippet is our hook; its entry, run on loader.py, prints the documented text."""
    import yaml

    config = yaml.safe_load(marked_block("pre-commit"))
    (hook,) = config["repos"][0]["hooks"]
    (shipped,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    same = {k: hook[k] for k in ("id", "entry", "types", "require_serial")}
    assert same == {k: shipped[k] for k in ("id", "entry", "types", "require_serial")}
    # pre-commit appends the staged file names to `entry`.
    out = run_documented(f"{hook['entry']} loader.py", documented_project)
    expected = normalise(marked_block("pre-commit-output"))
    assert (out.returncode, normalise(out.stdout)) == (1, expected)


# --- rules and explain ----------------------------------------------------------------------


def test_rules_lists_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    """`rules --format json` lists every registered code with its kind and docs anchor."""
    from threadsafe_gen import REGISTRY

    assert main(["rules", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in rows] == list(REGISTRY)
    assert rows[0]["docs"] == f"docs/checks.md#{rows[0]['code'].lower()}"


def test_explain_prints_why_fix_examples_and_suppression(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`explain TSG351` shows title, why, fix, both examples, how to suppress and the docs anchor."""
    assert main(["explain", "tsg351"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:2] == [
        "TSG351 next-without-lock (lint, error, thread-safety)",
        "  An iterator's __next__ does not hold the lock it owns",
    ]
    assert ("Example:" in lines, "Fixed:" in lines) == (True, True)
    assert lines[-2:] == [
        'Suppress: # threadsafe-gen: ignore[TSG351] on the line, or ignore = ["TSG351"] in [tool.threadsafe_gen]',
        "Docs: docs/checks.md#tsg351",
    ]


def test_explain_unknown_code_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown code exits 2 with close matches."""
    assert main(["explain", "TSG3510"]) == 2
    assert "Did you mean 'TSG351'" in capsys.readouterr().err


def test_lint_stdin_with_filename(tmp_path: Path) -> None:
    """`lint -` reads stdin and reports under --stdin-filename (for editors)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "threadsafe_gen",
            "lint",
            "-",
            "--stdin-filename",
            "pkg/train.py",
            "--format",
            "json",
        ],
        input="model.fit_generator(g)\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    data = json.loads(out.stdout)
    assert (out.returncode, [f["location"]["file"] for f in data["findings"]]) == (
        0,
        ["pkg/train.py"],
    )


def test_github_format_writes_the_job_summary(project: Path) -> None:
    """With GITHUB_STEP_SUMMARY set, --format github appends a table of every finding."""
    summary = project / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    subprocess.run(
        [sys.executable, "-m", "threadsafe_gen", "lint", ".", "--format", "github"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    lines = summary.read_text().splitlines()
    assert lines[:4] == [
        "### threadsafe-gen lint: 1 error, 1 warning, 0 info",
        "",
        "| severity | code | where | message |",
        "|---|---|---|---|",
    ]
    assert [ln.split(" | ")[1] for ln in lines[4:]] == ["TSG351", "TSG652"]
