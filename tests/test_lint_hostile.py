"""The linter survives any checkout (issue 11, items 9-14): it runs on untrusted pull requests.

A hostile file (a FIFO, a symlink to /dev/zero or to itself, a too-deep expression, a
malformed notebook, an unreadable folder) gives one TSG852 for that file, the other files
are still linted, and the run never hangs or crashes. Cases that could hang or eat memory run
``python -m threadsafe_gen lint`` in a subprocess with a hard timeout (and a memory limit).
"""

from __future__ import annotations

import ast
import errno
import json
import os
import re
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from threadsafe_gen._lint import LintOptions, lint_paths, lint_source

REPO = Path(__file__).parents[1]
#: The one clean-but-reported file next to each hostile one: it must still be linted.
GOOD = "model.fit_generator(g)\n"
posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs, /dev/zero and rlimits are POSIX")


def run_lint(
    cwd: Path, *args: str, timeout: float = 30, memory: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m threadsafe_gen lint ARGS --format json`` in *cwd*, bounded in time (and memory)."""

    def limit_memory() -> None:  # runs in the child, before exec
        import resource

        assert memory is not None
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, "-m", "threadsafe_gen", "lint", *args, "--format", "json"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_memory if memory is not None else None,
        check=False,
    )


def found(out: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
    """(code, file) of each finding in the JSON output; fails with stderr when there is none."""
    assert out.stdout.strip(), f"no JSON output (exit {out.returncode}): {out.stderr[-2000:]}"
    report = json.loads(out.stdout)
    return [(f["code"], f["location"]["file"]) for f in report["findings"]]


def _fifo(d: Path) -> str:
    os.mkfifo(d / "x.py")
    return "x.py"


def _dev_zero(d: Path) -> str:
    (d / "evil.py").symlink_to("/dev/zero")
    return "evil.py"


def _self_symlink(d: Path) -> str:
    (d / "loop.py").symlink_to("loop.py")
    return "loop.py"


def _deep_sum(d: Path) -> str:
    (d / "deep.py").write_text("x = " + " + ".join(["1"] * 5000) + "\n")
    return "deep.py"


def _deep_not(d: Path) -> str:
    (d / "nots.py").write_text("x = " + "not " * 5000 + "y\n")
    return "nots.py"


def _deeper_not(d: Path) -> str:  # the parser's own stack overflows: MemoryError
    (d / "nots.py").write_text("x = " + "not " * 100_000 + "y\n")
    return "nots.py"


def _deep_notebook(d: Path) -> str:
    (d / "deep.ipynb").write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return "deep.ipynb"


def _bad_utf8_with_suppression(d: Path) -> str:
    (d / "u.py").write_bytes(b"x = 1  # threadsafe-gen: ignore\n\xff\xfe = 2\n")
    return "u.py"


def _parser_rejects_5000_terms() -> bool:
    """Whether this Python's parser refuses the 5,000-term cases (3.11 and 3.12 do; 3.10 and
    3.13 parse them, and they are then ordinary files, linted like any other)."""
    try:
        ast.parse("x = " + " + ".join(["1"] * 5000))
        ast.parse("x = " + "not " * 5000 + "y")
    except (RecursionError, SyntaxError, MemoryError):
        return True
    return False


_PARSER_DEPTH_LIMITED = _parser_rejects_5000_terms()

#: case: (make the hostile file and return its name, what its TSG852 message says after it).
HOSTILE: dict[str, tuple[Callable[[Path], str], str]] = {
    "fifo": (_fifo, "is a FIFO (named pipe), not a regular file"),
    "symlink-to-dev-zero": (_dev_zero, "is a character device, not a regular file"),
    "self-symlink": (_self_symlink, "could not be read (Too many levels of symbolic links)"),
    **(
        {
            "5000-term-sum": (_deep_sum, "is too deeply nested for Python's parser"),
            "5000-nots": (_deep_not, "is too deeply nested for Python's parser"),
        }
        if _PARSER_DEPTH_LIMITED
        else {}
    ),
    "100000-nots": (_deeper_not, "is too deeply nested for Python's parser"),
    "deeply-nested-notebook": (_deep_notebook, "is not a readable notebook (nested too deeply"),
    "bad-utf8-with-suppression": (_bad_utf8_with_suppression, "is not valid Python"),
}


@posix_only
@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("named", [False, True], ids=["walked", "named"])
def test_hostile_file_is_one_tsg852_and_the_rest_is_linted(
    tmp_path: Path, case: str, named: bool
) -> None:
    """Each hostile file, found in a folder or named, is a TSG852 of its own saying why, and
    good.py next to it is still linted (in a subprocess: before the fix some hang or eat memory)."""
    (tmp_path / "good.py").write_text(GOOD)
    make, words = HOSTILE[case]
    name = make(tmp_path)
    out = run_lint(tmp_path, *([name, "good.py"] if named else ["."]), memory=3 * 2**30)
    assert sorted(found(out)) == [("TSG652", "good.py"), ("TSG852", name)]
    assert out.returncode == 1
    report = json.loads(out.stdout)
    jsonschema.validate(report, LINT_JSON_SCHEMA)
    (message,) = [f["message"] for f in report["findings"] if f["code"] == "TSG852"]
    assert f"{name} {words}" in message


@posix_only
def test_hostile_files_in_worker_processes(tmp_path: Path) -> None:
    """With --jobs 2 (worker processes) every hostile file is still one TSG852 of its own."""
    (tmp_path / "good.py").write_text(GOOD)
    for i in range(64):
        (tmp_path / f"filler{i}.py").write_text("x = 1\n")
    expected = [("TSG652", "good.py")]
    for case, (make, _) in sorted(HOSTILE.items()):
        (tmp_path / case).mkdir()
        expected.append(("TSG852", f"{case}/{make(tmp_path / case)}"))
    out = run_lint(tmp_path, ".", "--jobs", "2", memory=3 * 2**30)
    assert sorted(found(out)) == sorted(expected)
    jsonschema.validate(json.loads(out.stdout), LINT_JSON_SCHEMA)


def test_too_large_file_is_reported_not_read(tmp_path: Path) -> None:
    """A file above the size cap is one TSG852; the cap is an option (default 10 MiB)."""
    (tmp_path / "big.py").write_text("x = 1\n" * 100)
    (tmp_path / "good.py").write_text(GOOD)
    result = lint_paths([tmp_path], LintOptions(root=tmp_path, max_file_size=500))
    assert [(f.code, f.location.file if f.location else "") for f in result.findings] == [
        ("TSG852", "big.py"),
        ("TSG652", "good.py"),
    ]
    assert "big.py is 600 bytes, more than the lint's limit of 500 bytes" in (
        result.findings[0].message
    )
    assert LintOptions().max_file_size == 10 * 2**20
    with pytest.raises(ValueError, match=r"max_file_size must be >= 1"):
        LintOptions(max_file_size=0)


@pytest.mark.skipif(not _PARSER_DEPTH_LIMITED, reason="this Python parses 5,000 terms")
def test_too_deep_source_in_lint_source() -> None:
    """lint_source reports a too-deep expression as TSG852 too, instead of raising."""
    (finding,) = lint_source("x = " + " + ".join(["1"] * 5000) + "\n", "deep.py").findings
    assert finding.code == "TSG852"


# --- item 11: unreadable folders --------------------------------------------------------------


def _deny(monkeypatch: pytest.MonkeyPatch, locked: Path, *names: str) -> None:
    """Make os.<names> raise PermissionError for *locked* and what is inside it (as root
    cannot be denied by permissions, the test denies at the system-call wrappers)."""
    for name in names:
        real = getattr(os, name)

        def denied(path: Any, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            if isinstance(path, (str, os.PathLike)) and str(locked) in os.fspath(path):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return _real(path, *args, **kwargs)

        monkeypatch.setattr(os, name, denied)


def test_named_file_in_unreadable_folder_is_tsg852(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file named on the command line inside a folder we may not enter: TSG852, no traceback."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.py").write_text(GOOD)
    (tmp_path / "good.py").write_text(GOOD)
    _deny(monkeypatch, locked, "stat", "lstat", "open", "scandir")
    result = lint_paths([locked / "a.py", tmp_path / "good.py"], root=tmp_path, jobs=1)
    assert [(f.code, f.location.file if f.location else "") for f in result.findings] == [
        ("TSG852", "locked/a.py"),
        ("TSG652", "good.py"),
    ]
    assert "could not be read (Permission denied)" in result.findings[0].message


def test_unreadable_subfolder_is_reported_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subfolder that cannot be listed is a TSG852 naming it; the rest is linted."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.py").write_text(GOOD)
    (tmp_path / "good.py").write_text(GOOD)
    _deny(monkeypatch, locked, "scandir")
    result = lint_paths([tmp_path], root=tmp_path, jobs=1)
    assert [(f.code, f.location.file if f.location else "") for f in result.findings] == [
        ("TSG852", "locked"),
        ("TSG652", "good.py"),
    ]
    assert "the folder locked could not be read (Permission denied)" in result.findings[0].message


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="needs a real permission denial: root reads every folder",
)
def test_real_unreadable_folder(tmp_path: Path) -> None:  # pragma: no cover - not as root
    """With real permissions: an unlistable folder and a file inside it are both reported."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.py").write_text(GOOD)
    (tmp_path / "good.py").write_text(GOOD)
    locked.chmod(0)
    try:
        walked = lint_paths([tmp_path], root=tmp_path, jobs=1).findings
        named = lint_paths([locked / "a.py"], root=tmp_path, jobs=1).findings
    finally:
        locked.chmod(0o755)
    assert [f.code for f in walked] == ["TSG852", "TSG652"]
    assert [f.code for f in named] == ["TSG852"]


# --- item 14: malformed notebooks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "words"),
    [
        (["not a cell"], "cell 1 is not a JSON object"),
        ([{"cell_type": "code", "source": None}], "cell 1's source is null, not text"),
        ([{"cell_type": "code", "source": ["x = 1\n", 3]}], "cell 1's source is a list"),
        ([{"cell_type": "markdown", "source": "# T"}, 7], "cell 2 is not a JSON object"),
    ],
)
def test_malformed_notebook_is_tsg852(tmp_path: Path, cells: list[Any], words: str) -> None:
    """A notebook with a cell that is not a dict, or whose source is not text, is not clean."""
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells, "nbformat": 4}))
    (finding,) = lint_paths([tmp_path], root=tmp_path).findings
    assert finding.code == "TSG852"
    assert f"nb.ipynb is not a readable notebook ({words}" in finding.message


# --- item 12: every output format stays valid, whatever the file names -------------------------

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
_POSITIVE = {"type": "integer", "minimum": 1}
_COUNT = {"type": "integer", "minimum": 0}
#: The `--format json` output, as docs/cli.md describes it (schema_version 1).
LINT_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema_version", "tool", "command", "summary", "findings"],
    "properties": {
        "schema_version": {"const": 1},
        "tool": {
            "type": "object",
            "required": ["name", "version"],
            "properties": {"name": {"const": "threadsafe-gen"}, "version": {"type": "string"}},
        },
        "command": {"enum": ["lint", "check"]},
        "summary": {
            "type": "object",
            "required": ["files", "findings", "errors", "warnings", "info", "seconds"],
            "properties": {
                **dict.fromkeys(["files", "findings", "errors", "warnings", "info"], _COUNT),
                "seconds": {"type": "number", "minimum": 0},
            },
        },
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    *["code", "category", "severity", "path", "message", "hint"],
                    *["location", "details", "title", "name", "docs"],
                ],
                "properties": {
                    "code": {"type": "string", "pattern": "^TSG[0-9]{3}$"},
                    "severity": {"enum": ["error", "warning", "info"]},
                    "message": {"type": "string", "minLength": 1},
                    "location": {
                        "oneOf": [
                            {"type": "null"},
                            {
                                "type": "object",
                                "required": ["file", "line", "column", "end_line", "end_column"],
                                "properties": {
                                    "file": {"type": "string", "minLength": 1},
                                    "line": _POSITIVE,
                                    "column": _POSITIVE,
                                    "end_line": {"oneOf": [{"type": "null"}, _POSITIVE]},
                                    "end_column": {"oneOf": [{"type": "null"}, _POSITIVE]},
                                },
                            },
                        ]
                    },
                    "details": {"type": "object"},
                },
            },
        },
    },
}
#: One GitHub workflow command: properties escaped (no raw , : or newline inside a value).
GITHUB_COMMAND = re.compile(
    r"::(error|warning|notice) (?:[a-zA-Z]+=[^,:\r\n]*)(?:,[a-zA-Z]+=[^,:\r\n]*)*::[^\r\n]*"
)
ODD_NAMES = [
    "a#b.py",
    "q?.py",
    "sp ace.py",
    "per%cent.py",
    "c,o:l.py",
    "\u00fcn\u00ef.py",
    "new\nline.py",
]


def _odd_tree(tmp_path: Path) -> Path:
    """Files with odd names (each reported), and one whose coding cookie is unknown."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ODD_NAMES:
        (src / name).write_text(GOOD)
    (src / "enc.py").write_bytes(b"# -*- coding: no-such-codec -*-\nx = 1\n")
    return src


def _unescape_github(value: str) -> str:
    for code, char in (("%2C", ","), ("%3A", ":"), ("%0A", "\n"), ("%0D", "\r"), ("%25", "%")):
        value = value.replace(code, char)
    return value


@pytest.mark.parametrize("relative", [True, False], ids=["under-root", "outside-root"])
def test_every_format_is_valid_with_odd_file_names(tmp_path: Path, relative: bool) -> None:
    """json and SARIF pass their schemas, SARIF URIs are percent-encoded and point back at
    the file, GitHub commands stay one escaped line each, whatever the file names."""
    from threadsafe_gen._output import RunInfo, render

    src = _odd_tree(tmp_path)
    root = src if relative else tmp_path / "elsewhere"
    root.mkdir(exist_ok=True)
    result = lint_paths([src], root=root, jobs=1)
    files = {f.location.file for f in result.findings if f.location}
    assert len(files) == len(ODD_NAMES) + 1
    info = RunInfo("lint", files=result.files, seconds=result.seconds, root=str(root))

    jsonschema.validate(json.loads(render(result.findings, info, "json")), LINT_JSON_SCHEMA)

    sarif = json.loads(render(result.findings, info, "sarif"))
    jsonschema.validate(sarif, SARIF_SCHEMA)
    for res in sarif["runs"][0]["results"]:
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        parts = urllib.parse.urlsplit(uri)
        assert (parts.query, parts.fragment) == ("", ""), uri
        path = urllib.parse.unquote(parts.path)
        assert (path if relative else Path(path).relative_to(tmp_path).as_posix()) in {
            f if relative else Path(f).relative_to(tmp_path).as_posix() for f in files
        }, uri

    lines = render(result.findings, info, "github").split("\n")
    assert lines[-1].startswith("threadsafe-gen lint: ")
    shown = set()
    for line in lines[:-1]:
        assert GITHUB_COMMAND.fullmatch(line), line
        shown.add(_unescape_github(line.split("file=", 1)[1].split(",", 1)[0]))
    assert shown == files


def test_unknown_coding_cookie_has_a_valid_column() -> None:
    """An unknown encoding is TSG852 at line 1, column 1 (Python reports offset -1)."""
    (finding,) = lint_source(b"# -*- coding: no-such-codec -*-\nx = 1\n", "enc.py").findings
    assert finding.location is not None
    assert (finding.code, finding.location.line, finding.location.column) == ("TSG852", 1, 1)


# --- item 13: `python -m threadsafe_gen` does not run the linted repository's modules ----------


def _shadow(folder: Path, marker: Path, *names: str) -> None:
    for name in names:
        (folder / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'a').write('{name} ran\\n')\nraise SystemExit(99)\n"
        )


def test_python_m_does_not_import_from_the_linted_folder(tmp_path: Path) -> None:
    """Modules the command line imports (argparse, pkgutil, gettext) never come from the
    current folder: a repository's argparse.py is linted, not run."""
    marker = tmp_path / "ran.txt"
    repo = tmp_path / "repo"
    repo.mkdir()
    _shadow(repo, marker, "argparse", "pkgutil", "gettext")
    out = run_lint(repo, ".")
    assert not marker.exists(), marker.read_text()
    assert (out.returncode, json.loads(out.stdout)["summary"]["files"]) == (0, 3)


def test_python_m_does_not_import_stdlib_names_from_the_linted_folder(tmp_path: Path) -> None:
    """Not even the modules the package itself imports (ast, json, dataclasses...)."""
    marker = tmp_path / "ran.txt"
    repo = tmp_path / "repo"
    repo.mkdir()
    _shadow(repo, marker, "ast", "json", "dataclasses", "tokenize", "fnmatch")
    run_lint(repo, ".")
    assert not marker.exists(), marker.read_text()
