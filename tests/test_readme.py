"""The README's quickstart runs as written and its commands match .ci/run."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """.ci/run calls the README's test command and nothing else."""
    test_command = next(b.strip() for b in _blocks("bash") if "pytest" in b)
    ci_lines = [
        line
        for line in (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci_lines == [test_command]


@pytest.mark.slow
@pytest.mark.keras
def test_quickstart_runs_and_the_loader_is_clean(tmp_path: Path) -> None:
    """The quickstart, pasted into an empty folder, checks its loader: no error findings."""
    (quickstart,) = _blocks("python")
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart + "\nprint('QUICKSTART-OK')\n", encoding="utf-8")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert (out.returncode, out.stdout.strip().splitlines()[-1:]) == (0, ["QUICKSTART-OK"]), (
        out.stderr[-3000:]
    )
    with sqlite3.connect(tmp_path / "data.db") as db:  # it made and read its own data
        assert db.execute("SELECT count(*) FROM t").fetchone() == (64,)
