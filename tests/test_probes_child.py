"""The code that runs inside the probes' child processes (_probes/_child.py)."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import loaders.processes as L
import numpy as np
import pytest
from helpers.probes import FORK

from threadsafe_gen._probes._child import Payload, fingerprint


def test_fingerprint_depends_on_content_not_identity() -> None:
    """Equal batches give equal digests; dtype, shape and values all count."""
    a = (np.arange(6, dtype=np.float32).reshape(2, 3), {"w": [1, 2]})
    b = (np.arange(6, dtype=np.float32).reshape(2, 3), {"w": [1, 2]})
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint((a[0].astype(np.float64), a[1]))
    assert fingerprint(a) != fingerprint((a[0].reshape(3, 2), a[1]))
    assert fingerprint(a) != fingerprint((a[0] + 1, a[1]))


def test_payload_defers_unpickling_to_the_child() -> None:
    """A Payload pickles the loader as bytes and unpickles it only when asked."""
    loader = L.PureSeq(3)
    restored = pickle.loads(pickle.dumps(Payload(loader)))
    assert restored.data is not None
    assert len(restored.load()) == 3


# --- probe children of a killed checker ---------------------------------------------------------

_KILLED_CHECKER = """
import os, sys, time
import numpy as np
from threadsafe_gen import check_loader

class Hangs:
    def __init__(self):
        self.parent = os.getpid()

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 1 and (WHERE == "anywhere" or os.getpid() != self.parent):
            time.sleep(3600)
        return (np.full((2, 1), i, np.float32), np.zeros(2))

if __name__ == "__main__":
    print("READY", flush=True)
    check_loader(Hangs(), timeout=120, batch_timeout=60, probes=PROBES, use_multiprocessing=True,
                 start_method="fork")
"""


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            try:
                kids = {int(p) for p in task.read_text().split()}
            except OSError:
                continue
            todo += sorted(kids - found)
            found |= kids
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not FORK, reason="the probes fork")
@pytest.mark.parametrize(
    ("where", "probes"),
    [("anywhere", ["sequential"]), ("in-workers", ["fork_dry_run"])],
    ids=["canary", "fork-workers"],
)
def test_probe_children_exit_when_the_checker_is_killed(
    tmp_path: Path, where: str, probes: list[str]
) -> None:
    """SIGKILL of the checking process while its forked probe child hangs in the loader: the
    child notices (parent-death watchdog) and exits within seconds, not after the hang."""
    script = tmp_path / "checker.py"
    script.write_text(_KILLED_CHECKER.replace("WHERE", repr(where)).replace("PROBES", repr(probes)))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    kids: set[int] = set()
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        deadline = time.monotonic() + 30
        while not kids and time.monotonic() < deadline:
            time.sleep(0.2)
            kids = {p for p in _descendants(proc.pid) if _alive(p)}
        assert kids, "the checker started no probe child"
        time.sleep(1.0)  # the child is now inside the hanging call
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in kids if _alive(p)] == []
    finally:
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
