"""``threadsafe-gen check``: import the target and check it in a child process, supervised.

The command imports user code, and a module can block at import (a server call, a lock)
or end the process itself (``os._exit(0)``). In the command's own process the first
ignored ``--timeout`` and the second exited 0 with nothing printed, which CI reads as clean.
So the target is imported and checked in a child Python with the same ``sys.path``,
``sys.argv``, environment and working directory (its standard input is empty), and the
child only reports back, as JSON lines in a private file: ``ready``, ``imported``, then the
report, or the usage error. This process waits for each step with a bound, renders the
report, and ends the child's whole process group when a step does not come.

``check_loader()`` itself still runs in the process that built the loader (the child), as it
would in a user's test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from ._check import CheckOptions, run_check
from ._report import LoaderReport
from ._target import UsageError, resolve_target
from ._text import exit_description

__all__ = ["CheckRun", "ChildError", "check_target", "child_main"]

# NOTE [ The check child's bounds ]
# Starting the child (a Python that imports threadsafe_gen) may take up to STARTUP_SECONDS.
# The import of the target and the call of its factory get the check's own `timeout` (the
# --timeout flag, default 60 s): an import that blocks is cut there. The check then gets
# `timeout` plus GRACE_SECONDS, since check_loader() returns within `timeout` plus a few
# seconds for reaping its children; past that the child is stopped, as for a hang. After the
# report, the child has EXIT_SECONDS to exit (threads a module started at import may keep
# it alive); then its process group is killed, so nothing it started is left running.

STARTUP_SECONDS = 120.0
GRACE_SECONDS = 30.0
EXIT_SECONDS = 5.0
_POLL = 0.05


@dataclasses.dataclass(frozen=True)
class CheckRun:
    """A finished check of a target: its report and the target module's source file."""

    report: LoaderReport
    module_file: str | None


def check_target(spec: str, options: CheckOptions) -> CheckRun:
    """Check the loader *spec* names with *options*, in a child process where one can start.

    Raises:
        UsageError: the target cannot be resolved, check_loader() refused it, the import did
            not finish within ``options.timeout``, or the child ended without a report.
    """
    if sys.platform in ("emscripten", "wasi"):  # no child processes: check in this one
        loader, module_file = resolve_target(spec)
        return CheckRun(_run(spec, loader, options), module_file)
    folder = tempfile.mkdtemp(prefix="threadsafe_gen-check-")
    events = Path(folder) / "events.jsonl"
    events.touch()
    proc = _start_child(spec, options, events)
    finished = False
    try:
        run = _supervise(_Child(proc, events, spec), spec, options)
        finished = True
        return run
    finally:
        _stop(proc, EXIT_SECONDS if finished else 0.0)
        shutil.rmtree(folder, ignore_errors=True)


def _options_dict(options: CheckOptions) -> dict[str, Any]:
    """*options* as JSON types (the command line never sets probe functions)."""
    out = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    out["ignore"] = sorted(options.ignore)
    if out["probes"] is not None:
        out["probes"] = list(out["probes"])
    return out


def _start_child(spec: str, options: CheckOptions, events: Path) -> subprocess.Popen[bytes]:
    # sys.path is set before anything else is imported: with `-c` the current directory
    # comes first, and a project file named like a stdlib module must not shadow it.
    args = (str(events), spec, json.dumps(_options_dict(options)), os.getpid())
    code = (
        f"import sys; sys.path[:] = {sys.path!r}; sys.argv[:] = {sys.argv!r}\n"
        f"from threadsafe_gen._cli_check import child_main; child_main(*{args!r})\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.DEVNULL, start_new_session=True
    )


def _supervise(child: _Child, spec: str, options: CheckOptions) -> CheckRun:
    """Wait for each step of the child within its bound (NOTE [ The check child's bounds ])."""
    child.wait("ready", STARTUP_SECONDS, _late_start(spec))
    imported = child.wait("imported", options.timeout, _late_import(spec, options.timeout))
    budget = options.timeout + GRACE_SECONDS
    done = child.wait("report", budget, _late_report(spec, budget))
    return CheckRun(LoaderReport.from_dict(done["report"]), imported.get("module_file"))


class _Child:
    """The child process and the JSON lines it appends to its events file."""

    def __init__(self, proc: subprocess.Popen[bytes], events: Path, spec: str) -> None:
        self.proc = proc
        self.spec = spec
        self.events = events
        self.offset = 0
        self.pending: list[dict[str, Any]] = []

    def _read(self) -> None:
        with self.events.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # only whole lines: the child may be mid-write
        self.offset += end
        self.pending += [json.loads(line) for line in data[:end].splitlines() if line]

    def wait(self, step: str, seconds: float, late: str) -> dict[str, Any]:
        """The event *step*, within *seconds*.

        Raises:
            UsageError: the child reported a usage error, ended first, or *late* (the
                message) when the time is up.
            ChildError: the child reported an internal error.
        """
        deadline = time.monotonic() + seconds
        while True:
            status = _exit_status(self.proc)  # read before the events: none can follow
            self._read()
            while self.pending:
                event = self.pending.pop(0)
                if event["event"] == "error":
                    raise UsageError(event["message"])
                if event["event"] == "internal":
                    msg = f"the process checking {self.spec!r} failed:\n{event['traceback']}"
                    raise ChildError(msg)
                if event["event"] == step:
                    return event
            if status is not None:
                raise UsageError(_ended(self.spec, status, step))
            if time.monotonic() >= deadline:
                raise UsageError(late)
            time.sleep(_POLL)


class ChildError(Exception):
    """The check's child process hit an internal error; the message is its traceback."""


def _ended(spec: str, status: int, step: str) -> str:
    how = exit_description(status)
    if step == "ready":
        return (
            f"the process that checks {spec!r} {how} while starting, before it imported the "
            "target (its error output, above, says why): check that this Python can run "
            "`python -c 'import threadsafe_gen'`"
        )
    if step == "imported":
        return (
            f"the process importing {spec!r} {how} before the check could start, so nothing "
            "was checked: the module (or its factory) ends the process at import time, with "
            'os._exit() or a signal. Put such code under `if __name__ == "__main__":`'
        )
    return (
        f"the process checking {spec!r} {how} before it reported, so the check has no "
        "result: a call of the loader ended the whole process (os._exit(), a signal or a "
        "crash outside the probes' guarded calls). Run check_loader() on it in a test to "
        "see which call"
    )


def _late_start(spec: str) -> str:
    return (
        f"the process that checks {spec!r} did not start within {STARTUP_SECONDS:g} s "
        "(Python and threadsafe_gen did not finish importing there); the machine may be "
        "overloaded: try again"
    )


def _late_import(spec: str, seconds: float) -> str:
    return (
        f"importing {spec!r} (or calling its factory) did not finish within {seconds:g} s "
        "(--timeout), so nothing was checked: the module blocks at import time (a network or "
        "database call, a lock, a long computation). Move that work into a function "
        "the loader calls later, or raise --timeout"
    )


def _late_report(spec: str, seconds: float) -> str:
    return (
        f"the check of {spec!r} did not report within {seconds:g} s although check_loader() "
        "is bounded by --timeout: this is a bug in threadsafe_gen, please report it with "
        "the loader. Lower --timeout or --max-batches meanwhile"
    )


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Give the child *grace* seconds to exit, kill its process group (anything it
    started), and reap it."""
    deadline = time.monotonic() + grace
    while _exit_status(proc) is None and time.monotonic() < deadline:
        time.sleep(_POLL)
    # Until it is reaped, the child's pid (its group id too) cannot be reused.
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:  # pragma: no cover - Windows has no process groups to kill
        with contextlib.suppress(OSError):
            proc.kill()
    proc.wait()


def _exit_status(proc: subprocess.Popen[bytes]) -> int | None:
    """The child's exit code (``-N`` for signal N) once it ended, without reaping it."""
    if proc.returncode is not None:
        return proc.returncode
    if not hasattr(os, "waitid"):  # pragma: no cover - platforms without waitid
        return proc.poll()
    info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


# --- in the child ----------------------------------------------------------------------------


def _run(spec: str, loader: Any, options: CheckOptions) -> LoaderReport:
    try:
        return run_check(loader, options)
    except (TypeError, ValueError) as exc:
        # check_loader validates the loader's kind with these.
        msg = f"check_loader() refused {spec!r}: {exc}"
        raise UsageError(msg) from exc


def child_main(events: str, spec: str, options: str, parent: int) -> None:
    """The child's side: resolve *spec*, check it, and append each step to *events*.

    Nothing here prints: the parent renders the report or the error. The child exits
    when its parent dies (Linux), so a killed command leaves no check running.
    """
    _die_with_parent(parent)
    with open(events, "a", encoding="utf-8") as out:

        def send(event: str, **data: Any) -> None:
            out.write(json.dumps({"event": event, **data}) + "\n")
            out.flush()

        send("ready")
        try:
            loader, module_file = resolve_target(spec)
            send("imported", module_file=module_file)
            report = _run(spec, loader, CheckOptions(**json.loads(options)))
            send("report", report=report.to_dict())
        except UsageError as exc:
            send("error", message=str(exc))
        except BaseException:  # the parent reports it as an internal error
            send("internal", traceback=traceback.format_exc())


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (best effort, no thread)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # stdlib, but absent from some builds: only needed here

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (ImportError, OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request
        os._exit(1)
