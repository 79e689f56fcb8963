"""Test sessions for every Python we claim (3.10-3.13), run with nox.

    nox                    # what CI adds to the full 3.11 run: TensorFlow-free tests on
                           # 3.10, 3.12 and 3.13 (the README's test command runs both)
    nox -s tests           # the full suite on 3.11 in a fresh virtualenv, TensorFlow included
    nox -s tests_no_tf     # the TensorFlow-free tests (`-m "not keras"`) on 3.10-3.13
    nox -s tests_keras     # the Keras tests on 3.12 (TensorFlow has 3.12 wheels)
    nox -R -s tests_no_tf-3.13 -- tests/test_shared.py -x   # reuse the venv, pass pytest args

The TensorFlow-free sessions install the package with its ``test`` extra only, so they also
prove that ``-m "not keras"`` needs no TensorFlow, Keras or tf_keras, not even to collect.
The interpreters are found as ``python3.X`` on PATH. pyenv's shims answer only for the
versions PYENV_VERSION lists, so when pyenv is installed this file adds the newest installed
patch release of each version below to PYENV_VERSION (keeping what is already there).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
FULL_SUITE_PYTHON = "3.11"  # the version the full suite, TensorFlow included, runs on
KERAS_PYTHON = "3.12"

# The full suite on 3.11 runs in the project's .venv (the README's test command), so plain
# `nox` adds only the other versions' TensorFlow-free runs.
nox.options.sessions = [f"tests_no_tf-{v}" for v in PYTHONS if v != FULL_SUITE_PYTHON]
nox.options.error_on_missing_interpreters = True  # a skipped version must not pass silently


def _pyenv_version_list() -> str | None:
    """PYENV_VERSION extended with the newest installed patch release of each of PYTHONS."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    try:
        bare = subprocess.run(
            [pyenv, "versions", "--bare", "--skip-aliases"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        current = subprocess.run(
            [pyenv, "version-name"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    chosen = [v for v in os.environ.get("PYENV_VERSION", current).split(":") if v]
    for minor in PYTHONS:
        if any(v == minor or v.startswith(f"{minor}.") for v in chosen):
            continue
        # Plain CPython releases only: "3.13.0", not "3.13.0t" (free-threaded) or "3.13-dev".
        patches = [v for v in bare if re.fullmatch(rf"{re.escape(minor)}\.\d+", v)]
        if patches:
            chosen.append(max(patches, key=lambda v: int(v.rsplit(".", 1)[1])))
    return ":".join(chosen) or None


_versions = _pyenv_version_list()
if _versions:
    os.environ["PYENV_VERSION"] = _versions


def _pytest(session: nox.Session, *marks: str) -> None:
    """Run pytest; exit code 5 (no test collected) fails the session like any other."""
    args = session.posargs or []
    selection = ["-m", " and ".join(marks)] if marks else []
    session.run("python", "-m", "pytest", *selection, *args)


@nox.session(python=FULL_SUITE_PYTHON)
def tests(session: nox.Session) -> None:
    """The full suite with TensorFlow, Keras 3 and tf_keras (what the README runs in .venv)."""
    session.install("-e", ".[dev]")
    _pytest(session)


@nox.session(python=PYTHONS)
def tests_no_tf(session: nox.Session) -> None:
    """Every test that needs no TensorFlow/Keras, in a venv without them."""
    session.install("-e", ".[test]")
    _pytest(session, "not keras")


@nox.session(python=KERAS_PYTHON)
def tests_keras(session: nox.Session) -> None:
    """The Keras tests on another Python than the full suite's.

    Without the torch and grain extras: the CPU wheel of torch 2.13.0 that the machines keep
    on disk is for 3.11 only, and on 3.12 pip would download a CUDA build of several GB.
    The torch and Grain tests skip without them (they run in the full suite on 3.11).
    """
    session.install("-e", ".[tensorflow,test,corpus,examples]")
    _pytest(session, "keras")
