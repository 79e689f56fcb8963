"""The parent-death watchdog of every worker process we start.

Used by the worker engine (:mod:`._parallel`) and by ``check_loader()``'s children
(:mod:`._probes._child`): a child whose parent died exits instead of running (or blocking on a
full pipe) for ever. A leaf: it imports nothing of ours.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["parent_alive", "watch_parent"]

#: Seconds between two looks of the watchdog.
_WATCH_INTERVAL = 0.5


def watch_parent(parent_pid: int) -> None:
    """End this child process when its parent process *parent_pid* dies.

    A daemon thread looks every half second. A direct child (fork, spawn) is re-parented
    when its parent dies; a forkserver child's OS parent is the fork server, so the pid
    itself is probed. Without it, a SIGKILLed parent would leave a child that hangs in the
    loader running for ever.
    """
    direct = os.getppid() == parent_pid
    threading.Thread(
        target=_watch, args=(parent_pid, direct), name="threadsafe_gen-watchdog", daemon=True
    ).start()


def _watch(parent_pid: int, direct: bool) -> None:
    while True:
        time.sleep(_WATCH_INTERVAL)
        if (os.getppid() != parent_pid) if direct else not parent_alive(parent_pid):
            os._exit(0)


def parent_alive(pid: int) -> bool:
    """Whether process *pid* is alive: not gone, not a zombie (dead but not reaped yet)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone (or the pid was reused)
        return False
    # A parent that died but was not reaped yet is a zombie: dead for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
