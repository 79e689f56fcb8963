"""The pytest plugin: the loader_check fixture and assert_loader_safe, as a user's test sees them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from threadsafe_gen import assert_loader_safe
from threadsafe_gen.errors import LoaderCheckError

USER_TESTS = """
import numpy as np


class Pure:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if not 0 <= i < 4:
            raise IndexError(i)
        return np.arange(6.0).reshape(2, 3) + 10 * i, np.zeros((2, 1))


class Cursor(Pure):
    def __init__(self):
        self.cursor = 0

    def __getitem__(self, i):
        if not 0 <= i < 4:
            raise IndexError(i)
        self.cursor += 1
        return np.arange(6.0).reshape(2, 3) + 10 * self.cursor, np.zeros((2, 1))


def test_pure(loader_check):
    loader_check(Pure(), workers=2, max_batches=4)


def test_cursor(loader_check):
    loader_check(Cursor(), workers=4, fail_on="warning")
"""


class Pure:
    """A pure loader of 4 batches."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= i < 4:
            raise IndexError(i)
        return np.arange(6.0).reshape(2, 3) + 10 * i, np.zeros((2, 1))


@pytest.mark.slow
def test_fixture_in_a_users_session(tmp_path: Path) -> None:
    """The entry point registers loader_check; a failure shows the readable report, not our frames."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    text = out.stdout
    assert (out.returncode, "1 failed, 1 passed" in text) == (1, True), text
    assert "loader is not safe with workers=4" in text
    assert "TSG303 [warning] thread-safety: loader.cursor" in text
    assert "_assertions.py" not in text  # __tracebackhide__ keeps our frame out


def test_assert_loader_safe_returns_the_report() -> None:
    """A safe loader returns its LoaderReport."""
    report = assert_loader_safe(Pure(), workers=2, max_batches=4)
    assert (report.ok, report.settings["workers"]) == (True, 2)


def test_assert_loader_safe_raises_assertion_with_report() -> None:
    """A finding at or above fail_on raises LoaderCheckError (an AssertionError) holding the report."""

    class Cursor(Pure):
        def __init__(self) -> None:
            self.cursor = 0

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            self.cursor += 1
            return super().__getitem__(i % 4)

    with pytest.raises(AssertionError) as info:
        assert_loader_safe(Cursor(), workers=4, fail_on="warning")
    assert isinstance(info.value, LoaderCheckError)
    assert "TSG303" in info.value.report.codes()  # type: ignore[attr-defined]


def test_options_are_check_loaders() -> None:
    """assert_loader_safe takes check_loader()'s options (the CheckOptions fields), by keyword
    or as a CheckOptions; an unknown one is a TypeError naming the likely intended one."""
    import dataclasses
    import inspect

    from threadsafe_gen import check_loader
    from threadsafe_gen._check import CheckOptions

    fields = [f.name for f in dataclasses.fields(CheckOptions)]
    assert list(inspect.signature(check_loader).parameters)[1:] == fields
    report = assert_loader_safe(Pure(), options=CheckOptions(workers=2), max_batches=4)
    assert (report.settings["workers"], report.settings["batches"]) == (2, 4)
    with pytest.raises(
        TypeError, match=r"unexpected keyword argument 'wokers'\. Did you mean 'workers'"
    ):
        assert_loader_safe(Pure(), wokers=2)


def test_fail_on_is_validated() -> None:
    """An unknown severity is a ValueError."""
    with pytest.raises(ValueError, match="'fatal' is not a valid Severity"):
        assert_loader_safe(Pure(), fail_on="fatal")


def test_plugin_import_is_light() -> None:
    """Importing the plugin loads neither TensorFlow, Keras nor Hypothesis (fresh process)."""
    code = (
        "import sys, threadsafe_gen.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'tensorflow', 'keras', 'tf_keras', 'hypothesis'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
