"""Fork-safety rule: connections, sockets and open files stored on a loader (TSG251).

Forked workers share one descriptor or session (wrong rows, interleaved replies); spawned
workers cannot receive it at all (docs/checks.md#tsg251).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping

from ..astutil import FunctionNode, walk_local
from ..context import ClassInfo, ModuleInfo, Rule
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


#: Methods of a handle whose result still uses it (a dataset, a cursor, a transaction).
_HANDLE_PARTS = frozenset({"get", "cursor", "begin", "require_group", "require_dataset", "open_db"})
#: Literal containers and comprehensions: a list of handles is handles too.
_CONTAINERS = (ast.List, ast.Tuple, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.Dict)


def _handle_call(module: ModuleInfo, value: ast.AST) -> str | None:
    """The constructor *value* calls, when it opens a handle; else ``None``."""
    q = module.names.call_name(value)
    return q if q is not None and q in _HANDLE_CTORS else None


def _contained_handle(module: ModuleInfo, value: ast.expr) -> str | None:
    """``[h5py.File(p) for p in paths]``, ``{k: sqlite3.connect(v) ...}``: handles in a
    container; the constructor, or ``None``."""
    if not isinstance(value, _CONTAINERS):
        return None
    if isinstance(value, (ast.ListComp, ast.SetComp)):
        elts: list[ast.expr | None] = [value.elt]
    elif isinstance(value, ast.DictComp):
        elts = [value.value]
    elif isinstance(value, ast.Dict):
        elts = list(value.values)
    else:
        elts = list(value.elts)
    return next((q for e in elts if e is not None and (q := _handle_call(module, e))), None)


def _through_local(value: ast.expr, handles: Mapping[str, object] | None) -> str | None:
    """The local handle *value* is part of: ``f``, ``f["x"]``, ``f["g"]["x"]``,
    ``f.get("x")``, ``conn.cursor()``; ``None`` for data read out of it (``f["x"][:]``).
    With *handles* ``None``, the name such a value starts from, whatever it is bound to."""
    node: ast.expr = value
    while True:
        if isinstance(node, ast.Name):
            return node.id if handles is None or node.id in handles else None
        if isinstance(node, ast.Subscript) and isinstance(
            node.slice, (ast.Constant, ast.Name, ast.Attribute)
        ):
            if isinstance(node.slice, ast.Constant) and not isinstance(node.slice.value, str):
                return None  # f["x"][0]: a value read from the dataset
            node = node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _HANDLE_PARTS
        ):
            node = node.func.value
        else:
            return None


def _local_handles(module: ModuleInfo, init: FunctionNode) -> dict[str, tuple[str, ast.stmt]]:
    """Locals of ``__init__`` bound to a handle it does not close: ``f = h5py.File(p)``."""
    out: dict[str, tuple[str, ast.stmt]] = {}
    closed: set[str] = set()
    for n in walk_local(init.body):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            q = _handle_call(module, n.value)
            if q is not None:
                out.setdefault(n.targets[0].id, (q, n))
        elif (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "close"
            and isinstance(n.func.value, ast.Name)
        ):
            closed.add(n.func.value.id)
    return {k: v for k, v in out.items() if k not in closed}


def _draft(
    module: ModuleInfo, cls: ClassInfo, stmt: ast.stmt, attrs: str, what: str, q: str
) -> Draft:
    sqlite = ", and sqlite3 refuses a connection made in another thread"
    first = attrs.split(" and ")[0].removeprefix("self.")
    return module.draft(
        "TSG251",
        stmt,
        f"{cls.name}.__init__",
        f"{cls.name}.__init__ stores {what} on {attrs}: "
        "forked workers share one descriptor/session (wrong rows, interleaved "
        "replies) and spawned workers cannot receive it"
        + (sqlite if q.startswith("sqlite3.") else ""),
        cls=cls.qual,
        applies="loader",
        hint=f"Open it lazily per worker: `{first} = threadsafe_gen.per_process("
        f"factory)` as a class attribute (or per_thread for thread-bound clients).",
    )


def _check_class(module: ModuleInfo, cls: ClassInfo) -> Iterator[Draft]:
    init = cls.methods.get("__init__")
    handles: dict[str, tuple[str, ast.stmt]] = {}
    if init is not None:
        # Look for handles in locals only when a value stored on self comes from a local.
        params = {a.arg for a in init.args.posonlyargs + init.args.args + init.args.kwonlyargs}
        roots = {_through_local(v, None) for _a, v, _s in cls.init_assignments}
        if any(r is not None and r not in params for r in roots):
            handles = _local_handles(module, init)
    via: dict[str, list[tuple[str, ast.stmt]]] = {}  # local handle -> (attr, statement)
    for attr, value, stmt in cls.init_assignments:
        q = _handle_call(module, value)
        if q is not None:
            yield _draft(module, cls, stmt, f"self.{attr}", f"{_HANDLE_CTORS[q]} ({q})", q)
        elif (q := _contained_handle(module, value)) is not None:
            what = f"a collection with {_HANDLE_CTORS[q]} per item ({q})"
            yield _draft(module, cls, stmt, f"self.{attr}", what, q)
        elif (local := _through_local(value, handles)) is not None:
            via.setdefault(local, []).append((attr, stmt))
    for local, parts in via.items():
        stored = sorted(parts, key=lambda p: (p[1].lineno, p[1].col_offset))
        q, _opened = handles[local]
        attrs = " and ".join(f"self.{a}" for a, _ in stored)
        what = f"{_HANDLE_CTORS[q]} ({q}, opened as the local `{local}`) or parts of it"
        yield _draft(module, cls, stored[0][1], attrs, what, q)


def check(module: ModuleInfo) -> Iterator[Draft]:
    """TSG251 for each connection, socket or open file stored on ``self`` in ``__init__``:
    directly, in a collection, or through a local (``f = h5py.File(p); self.x = f["x"]``)."""
    for cls in module.checked_classes:
        yield from _check_class(module, cls)


RULES = (Rule("handle-attribute-in-init", CODES, check),)
