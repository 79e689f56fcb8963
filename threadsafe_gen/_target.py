"""What ``threadsafe-gen check`` checks: the loader a ``MODULE:NAME`` target names.

:func:`resolve_target` imports the module (or ``path/to/file.py``) and returns the object,
calling a zero-argument factory; every mistake is a :class:`UsageError` that names the
close matches and the common slips. The command runs it in a child process
(:mod:`threadsafe_gen._cli_check`), so a module that blocks or exits at import cannot hang
or silently end the command.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["UsageError", "did_you_mean", "resolve_target"]


class UsageError(Exception):
    """A mistake in how the command was called: printed without a traceback, exit code 2."""


def _fail(msg: str) -> NoReturn:
    raise UsageError(msg)


def _looks_like_path(module: str) -> bool:
    return module.endswith(".py") or "/" in module or os.sep in module


def _top_level_names(path: Path) -> list[str]:
    """Names a file defines at top level, read with ast (the file is not run)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    # Classes and functions first: they are the likely loaders and factories.
    classes: list[str] = []
    functions: list[str] = []
    others: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes.append(node.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append(node.name)
        elif isinstance(node, ast.Assign):
            others.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return [n for n in (*classes, *functions, *others) if not n.startswith("_")]


def did_you_mean(word: str, options: Sequence[str]) -> str:
    """`` Did you mean 'x' or 'y'?`` for the close matches of *word*, or ``""``."""
    matches = difflib.get_close_matches(word, list(options), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


def _import_file(path: Path) -> Any:
    """Import a .py file by its module name, with its package root on sys.path.

    Importing by name (not by file location) keeps classes picklable by reference, so
    spawn/forkserver workers, which receive the parent's sys.path, can import them too.
    """
    full = path.resolve()
    parts = [] if full.name == "__init__.py" else [full.stem]
    parent = full.parent
    while (parent / "__init__.py").exists() and parent.parent != parent:
        parts.append(parent.name)
        parent = parent.parent
    if str(parent) not in sys.path:
        sys.path.insert(0, str(parent))
    return importlib.import_module(".".join(reversed(parts)))


def _import_module(module: str) -> Any:
    if "" not in sys.path and os.getcwd() not in sys.path:
        # Like `python -m`: modules in the current directory are importable.
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        if module == missing or module.startswith(missing + "."):
            parent, _, leaf = missing.rpartition(".")
            if parent:
                try:
                    pkg = importlib.import_module(parent)
                    options = [m.name for m in pkgutil.iter_modules(getattr(pkg, "__path__", []))]
                except ImportError:
                    options = []
            else:
                options = [m.name for m in pkgutil.iter_modules()]
            hint = did_you_mean(leaf, options)
            if not hint and Path(module.replace(".", "/") + ".py").exists():
                hint = " It exists as a file: is its folder missing an __init__.py?"
            _fail(f"cannot import module {module!r}: no module named {missing!r}.{hint}")
        msg = (
            f"importing {module!r} failed: {type(exc).__name__}: {exc} (a dependency of the "
            "target is not installed)"
        )
        raise UsageError(msg) from exc


def resolve_target(spec: str) -> tuple[Any, str | None]:
    """Import ``MODULE:NAME`` or ``path/to/file.py:NAME`` and return (loader, module file).

    A class or function that is not itself a loader is called with no arguments, so a
    factory such as ``def make_loader(): return Loader(...)`` works as a target. Nothing is
    called for a generator function, which ``check_loader()`` calls itself for each pass.

    Raises:
        UsageError: the spec is malformed, the module or name does not exist (with close
            matches), importing raised, or the factory needs arguments.
    """
    module, attr = _split(spec)
    mod = _import_target(module, attr, spec)
    obj: Any = mod
    walked: list[str] = []
    for part in attr.split("."):
        if not hasattr(obj, part):
            options = [n for n in dir(obj) if not n.startswith("_")]
            where = ".".join([mod.__name__, *walked])
            _fail(f"{where!r} has no attribute {part!r}.{did_you_mean(part, options)}")
        obj = getattr(obj, part)
        walked.append(part)
    return _materialise(obj, spec), getattr(mod, "__file__", None)


def _split(spec: str) -> tuple[str, str]:
    """``MODULE:NAME`` as (MODULE, NAME), or a usage error naming the slip."""
    module, colon, attr = spec.rpartition(":")
    if not colon:
        if _looks_like_path(spec):
            path = Path(spec)
            names = _top_level_names(path) if path.is_file() else []
            listed = f" Names defined there: {', '.join(names[:12])}." if names else ""
            _fail(
                f"target {spec!r} names a file but no object in it; add ':NAME', e.g. "
                f"'{spec}:{names[0] if names else 'make_loader'}'.{listed}"
            )
        _fail(
            f"target {spec!r} has no ':'; expected MODULE:NAME (e.g. 'mypkg.data:make_loader') "
            f"or path/to/file.py:NAME. Did you mean '{spec.rpartition('.')[0] or spec}:"
            f"{spec.rpartition('.')[2] if '.' in spec else 'NAME'}'?"
        )
    if not module or not attr:
        _fail(f"target {spec!r} must be MODULE:NAME with both parts, e.g. 'mypkg.data:make_loader'")
    if len(module) == 1 and module.isalpha():  # a Windows drive letter, e.g. C:\data.py
        _fail(f"target {spec!r} looks like a path without ':NAME'; use path\\to\\file.py:NAME")
    return module, attr


def _import_target(module: str, attr: str, spec: str) -> Any:
    """The module of the target, imported by name or from its file; errors as usage errors."""
    try:
        if not _looks_like_path(module):
            if module.endswith(".py"):
                _fail(
                    f"module {module!r} ends in .py; write it as a path ({module[:-3].replace('.', '/')}.py) or a module name ({module[:-3]})"
                )
            return _import_module(module)
        path = Path(module)
        if not path.is_file():
            _missing_file(module, attr, spec)
        return _import_file(path)
    except UsageError:
        raise
    except SystemExit as exc:
        msg = (
            f"importing {module!r} called sys.exit({exc.code!r}); the module runs code at import "
            'time: put it under `if __name__ == "__main__":`'
        )
        raise UsageError(msg) from exc
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        msg = (
            f"importing {module!r} raised {type(exc).__name__}: {exc} "
            f"(at {frame.filename}:{frame.lineno})"
        )
        raise UsageError(msg) from exc


def _missing_file(module: str, attr: str, spec: str) -> NoReturn:
    """A usage error for a target file that does not exist, with the likely intended one."""
    path = Path(module)
    with_py = Path(module + ".py")
    as_path = Path(module[:-3].replace(".", "/") + ".py")
    if with_py.is_file():  # examples/loaders:NAME without the .py
        _fail(f"target file {module!r} does not exist; did you mean '{with_py.as_posix()}:{attr}'?")
    if module.endswith(".py") and "/" not in module and as_path.is_file():
        _fail(
            f"target {spec!r} mixes a module name and a file name; use "
            f"'{module[:-3]}:{attr}' or '{as_path.as_posix()}:{attr}'"
        )
    folder = path.parent if str(path.parent) else Path()
    options = [p.name for p in folder.glob("*.py")] if folder.is_dir() else []
    _fail(f"target file {module!r} does not exist.{did_you_mean(path.name, options)}")


def _is_loader(obj: Any) -> bool:
    cls = type(obj)
    has_index = hasattr(cls, "__getitem__") and hasattr(cls, "__len__")
    return has_index or hasattr(cls, "__next__") or inspect.isgenerator(obj)


def _materialise(obj: Any, spec: str) -> Any:
    if inspect.isgeneratorfunction(obj) or _is_loader(obj) or not callable(obj):
        return obj
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        required = [
            p.name
            for p in sig.parameters.values()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if required:
            _fail(
                f"{spec!r} needs arguments ({', '.join(required)}); point the command at a "
                "loader object or at a zero-argument function that builds one, e.g. "
                "`def make_loader(): return MyLoader(x, y, batch_size=32)`"
            )
    try:
        return obj()
    except Exception as exc:
        msg = f"calling {spec!r}() to build the loader raised {type(exc).__name__}: {exc}"
        raise UsageError(msg) from exc
