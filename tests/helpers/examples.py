"""Run an example script the way a user would, and leave nothing behind whatever happens.

Examples import TensorFlow and start worker processes, so each runs in its own interpreter,
in a session of its own. The whole process group (the script and its workers) is killed when
the script overruns its timeout, and also when anything else ends the wait: pytest-timeout,
Ctrl-C. Keep each example's timeout below the test's pytest timeout (pyproject.toml: 300 s,
or the test's ``@pytest.mark.timeout``) so that a hang is reported with the script's output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
EXACTLY_ONCE = [
    "epoch 0: 64/64 sample ids, each exactly once",
    "epoch 1: 64/64 sample ids, each exactly once",
]


def run_example(
    script: str, *args: str, timeout: float = 240, env: dict[str, str] | None = None
) -> str:
    """Run examples/<script> with this Python; return its stdout.

    Fails the test with the script's output if it exits non-zero, overruns `timeout` or
    leaves a shared-memory segment of ours (``/dev/shm/tsg_<pid>_*``) behind.
    """
    proc = subprocess.Popen(
        [sys.executable, os.path.join(EXAMPLES, script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its workers are in its process group, killed with it
        env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )
    with proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, err = proc.communicate()
            pytest.fail(f"{script} {args} did not finish in {timeout} s\n{out}\n{err[-3000:]}")
        finally:  # also on pytest-timeout or KeyboardInterrupt: no orphan survives the test
            _kill_group(proc.pid)
    assert proc.returncode == 0, f"{script} {args} exited {proc.returncode}\n{out}\n{err[-3000:]}"
    leaked = (
        [e for e in os.listdir("/dev/shm") if e.startswith(f"tsg_{proc.pid}_")]
        if os.path.isdir("/dev/shm")
        else []
    )
    assert leaked == [], f"{script} left shared memory behind: {leaked}"
    return out


def assert_epochs_exactly_once(out: str, times: int = 1) -> None:
    """The example printed the exactly-once lines for both epochs (`times` runs of fit)."""
    for line in EXACTLY_ONCE:
        assert out.count(line) == times, out


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # the group is already gone
        pass
