"""Fork-safety rule: connections, sockets and open files stored on a loader (TSG251).

Forked workers share one descriptor or session (wrong rows, interleaved replies); spawned
workers cannot receive it at all (docs/checks.md#tsg251).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..context import ModuleInfo, Rule
from ..facts import Draft

__all__ = ["CODES", "RULES"]

CODES = frozenset({"TSG251"})

# Connections, sockets and files: shared by forked workers, refused by spawn (TSG251).
_HANDLE_CTORS: Mapping[str, str] = {
    "builtins.open": "an open file",
    "io.open": "an open file",
    "io.FileIO": "an open file",
    "gzip.open": "an open file",
    "gzip.GzipFile": "an open file",
    "bz2.open": "an open file",
    "lzma.open": "an open file",
    "tarfile.open": "an open tar file",
    "zipfile.ZipFile": "an open zip file",
    "mmap.mmap": "a memory map",
    "sqlite3.connect": "a sqlite3 connection",
    "psycopg.connect": "a PostgreSQL connection",
    "psycopg.Connection.connect": "a PostgreSQL connection",
    "psycopg2.connect": "a PostgreSQL connection",
    "pymysql.connect": "a MySQL connection",
    "MySQLdb.connect": "a MySQL connection",
    "mysql.connector.connect": "a MySQL connection",
    "pymongo.MongoClient": "a MongoDB client",
    "redis.Redis": "a Redis client",
    "redis.StrictRedis": "a Redis client",
    "redis.from_url": "a Redis client",
    "socket.socket": "a socket",
    "socket.create_connection": "a socket",
    "h5py.File": "an open HDF5 file",
    "tables.open_file": "an open HDF5 file",
    "lmdb.open": "an LMDB environment",
    "sqlalchemy.create_engine": "a SQLAlchemy engine (a connection pool)",
    "requests.Session": "an HTTP session (a connection pool)",
    "httpx.Client": "an HTTP client (a connection pool)",
    "urllib3.PoolManager": "an HTTP connection pool",
    "boto3.client": "a boto3 client",
    "boto3.resource": "a boto3 resource",
}


def check(module: ModuleInfo) -> Iterator[Draft]:
    """TSG251 for each connection, socket or open file stored on ``self`` in ``__init__``."""
    for cls in module.checked_classes:
        for attr, value, stmt in cls.init_assignments:
            q = module.names.call_name(value)
            if q is None or q not in _HANDLE_CTORS:
                continue
            sqlite = ", and sqlite3 refuses a connection made in another thread"
            yield module.draft(
                "TSG251",
                stmt,
                f"{cls.name}.__init__",
                f"{cls.name}.__init__ stores {_HANDLE_CTORS[q]} ({q}) on self.{attr}: "
                "forked workers share one descriptor/session (wrong rows, interleaved "
                "replies) and spawned workers cannot receive it"
                + (sqlite if q.startswith("sqlite3.") else ""),
                cls=cls.qual,
                applies="loader",
                hint=f"Open it lazily per worker: `{attr} = threadsafe_gen.per_process("
                f"factory)` as a class attribute (or per_thread for thread-bound clients).",
            )


RULES = (Rule("handle-attribute-in-init", CODES, check),)
