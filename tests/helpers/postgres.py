"""A throwaway PostgreSQL server for the PostgreSQL example's test (no conftest magic).

`postgres_server()` is a context manager yielding a libpq connection string. In order:

1. ``TSG_PG_DSN`` set in the environment: use that server as it is.
2. Otherwise find ``initdb``/``pg_ctl`` (PATH, then ``/usr/lib/postgresql/<v>/bin``); if they are
   missing and we are root on Debian/Ubuntu, ``apt-get install -y postgresql`` once per machine.
3. ``initdb`` a cluster in a temporary directory (as the ``postgres`` user when we are root:
   PostgreSQL refuses to run as root), start it with ``pg_ctl`` on 127.0.0.1 and a free port,
   its unix socket inside the temporary directory, and stop it (``-m immediate``) afterwards.

If none of that is possible, `PostgresUnavailable` says exactly why; the test skips with it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

__all__ = ["PostgresUnavailable", "postgres_server"]


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be found, installed or started; the message says why."""


def _find_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _install() -> None:
    """apt-get install postgresql (root only). Raises PostgresUnavailable with the reason."""
    if os.geteuid() != 0:
        msg = (
            "initdb/pg_ctl not found and not root, so `apt-get install postgresql` is not possible"
        )
        raise PostgresUnavailable(msg)
    if shutil.which("apt-get") is None:
        msg = "initdb/pg_ctl not found and apt-get is not available to install PostgreSQL"
        raise PostgresUnavailable(msg)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    if result.returncode != 0:  # the package lists may be missing on a fresh machine
        subprocess.run(
            ["apt-get", "update"], capture_output=True, env=env, timeout=600, check=False
        )
        result = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=900, check=False
        )
    if result.returncode != 0:
        msg = f"`apt-get install postgresql` failed: {result.stderr.strip()[-500:]}"
        raise PostgresUnavailable(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_db_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the `postgres` user then."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        msg = "running as root, and `runuser` is missing to start PostgreSQL as user postgres"
        raise PostgresUnavailable(msg)
    return [runuser, "-u", "postgres", "--", *cmd]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a DSN of a running PostgreSQL server (started here, and stopped afterwards)."""
    dsn = os.environ.get("TSG_PG_DSN")
    if dsn:
        yield dsn
        return
    if _find_bin("initdb") is None or _find_bin("pg_ctl") is None:
        _install()
    initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        msg = "PostgreSQL was installed but initdb/pg_ctl are still not found"
        raise PostgresUnavailable(msg)
    if os.geteuid() == 0:
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            msg = "running as root and there is no `postgres` user to run the server as"
            raise PostgresUnavailable(msg) from None
    tmp = tempfile.mkdtemp(prefix="tsg_pg_")
    data = os.path.join(tmp, "data")
    if os.geteuid() == 0:
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    started = False
    try:
        result = subprocess.run(
            _as_db_user(
                [initdb, "-D", data, "-A", "trust", "-U", "tsg", "--no-sync", "-E", "UTF8"]
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            msg = f"initdb failed: {result.stderr.strip()[-500:]}"
            raise PostgresUnavailable(msg)
        options = f"-h 127.0.0.1 -p {port} -k {tmp} -F -c max_connections=50"
        result = subprocess.run(
            _as_db_user(
                [
                    pg_ctl,
                    "-D",
                    data,
                    "-o",
                    options,
                    "-l",
                    os.path.join(tmp, "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        started = result.returncode == 0
        if not started:
            tail = ""
            with contextlib.suppress(OSError), open(os.path.join(tmp, "log")) as log:
                tail = log.read()[-500:]
            msg = f"pg_ctl start failed: {result.stderr.strip()[-300:]} {tail}"
            raise PostgresUnavailable(msg)
        _wait_ready(port)
        yield f"host=127.0.0.1 port={port} user=tsg dbname=postgres connect_timeout=10"
    finally:
        if started:
            subprocess.run(
                _as_db_user([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
