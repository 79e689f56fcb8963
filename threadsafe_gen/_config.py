"""``[tool.threadsafe_gen]`` in pyproject.toml: the settings of ``threadsafe-gen lint`` and ``check``.

Found by walking up from the current directory to the first ``pyproject.toml`` that has the
table (like ruff and mypy, a pyproject.toml without it does not stop the walk at a nested
package, but the nearest file with the table wins). Keys are kebab-case; underscores are
accepted too. Command-line flags override the file.

The keys are the fields of :class:`~threadsafe_gen._lint.LintOptions` (the table itself)
and of :class:`~threadsafe_gen._check.CheckOptions` (``[tool.threadsafe_gen.check]``), plus
``fail-on`` in both: there is no other list of them. The file gives partial overrides of
those dataclasses, each checked by the dataclass itself, and :meth:`Config.lint_options` /
:meth:`Config.check_options` merge them over the defaults with :func:`dataclasses.replace`;
the command line merges its flags over that in turn.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import os
import re
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ._check import CheckOptions
from ._lint.options import LintOptions
from .errors import ConfigError

__all__ = [
    "NOT_CONFIGURABLE",
    "Config",
    "Kind",
    "find_pyproject",
    "load_config",
    "option_kinds",
]

_SEVERITIES = ("error", "warning", "info")
_TABLE_RE = re.compile(r"""^\s*\[\s*tool\s*\.\s*["']?threadsafe[_-]gen\b""", re.MULTILINE)

#: Option fields the file does not set: the root is the folder of the pyproject.toml
#: itself, the number of lint jobs belongs to the machine, and probes are Python objects.
NOT_CONFIGURABLE = frozenset({"root", "jobs", "probes"})

#: What a value of an options field is, as far as a file or a flag can spell it.
Kind = Literal["bool", "int", "float", "str", "strs", "table"]

_SCALARS: dict[object, Kind] = {bool: "bool", int: "int", float: "float", str: "str"}
_STRING_COLLECTIONS = (
    tuple,
    list,
    set,
    frozenset,
    collections.abc.Collection,
    collections.abc.Sequence,
)


def _kind(hint: Any) -> Kind | None:
    """The kind of a field's type hint, or ``None`` when a file or flag cannot give it."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        present = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(present) != 1:
            return None
        hint = present[0]
    if hint in _SCALARS:
        return _SCALARS[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _STRING_COLLECTIONS and args and args[0] is str:
        return "strs"
    if origin is collections.abc.Mapping:
        return "table"
    return None


def option_kinds(cls: type[Any]) -> dict[str, Kind]:
    """The fields of the options dataclass *cls* that a file or a flag can give, by kind.

    In field order; the command line builds its flags from the same fields.

    >>> option_kinds(CheckOptions)["workers"], option_kinds(LintOptions)["select"]
    ('int', 'strs')
    """
    hints = typing.get_type_hints(cls)
    kinds = {f.name: _kind(hints[f.name]) for f in dataclasses.fields(cls)}
    return {name: kind for name, kind in kinds.items() if kind is not None}


@dataclasses.dataclass(frozen=True)
class Config:
    """The settings read from ``[tool.threadsafe_gen]`` (all optional).

    Attributes:
        path: the pyproject.toml they came from, or ``None`` for built-in defaults.
        root: the folder of that file (globs and reported paths are relative to it), else
            the current directory.
        lint: the :class:`LintOptions` fields the table sets, by field name.
        check: the :class:`CheckOptions` fields ``[tool.threadsafe_gen.check]`` sets.
        fail_on: ``fail-on`` of the table (lint, and check unless its own table sets one).
        check_fail_on: ``fail-on`` of ``[tool.threadsafe_gen.check]``.
    """

    path: Path | None = None
    root: Path = dataclasses.field(default_factory=Path.cwd)
    lint: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    check: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    fail_on: str | None = None
    check_fail_on: str | None = None

    def lint_options(self) -> LintOptions:
        """The lint's options: the defaults, with this file's settings over them."""
        return dataclasses.replace(LintOptions(root=self.root), **self.lint)

    def check_options(self) -> CheckOptions:
        """The check's options: the defaults, with this file's settings over them."""
        return dataclasses.replace(CheckOptions(), **self.check)


def _toml_loads(text: str, path: Path) -> dict[str, Any]:
    parser: Any
    if sys.version_info >= (3, 11):
        import tomllib as parser
    else:  # pragma: no cover - exercised on Python 3.10 only
        import importlib

        try:
            parser = importlib.import_module("tomli")
        except ImportError as exc:
            msg = (
                f"reading {path} needs a TOML parser: Python 3.10 has none built in. "
                "Install `tomli` (pip install tomli), or pass options on the command line."
            )
            raise ConfigError(msg) from exc
    try:
        data: dict[str, Any] = parser.loads(text)
    except parser.TOMLDecodeError as exc:
        msg = f"{path} is not valid TOML ({exc}); fix the file or pass --config another file"
        raise ConfigError(msg) from exc
    return data


def _table(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tool = data.get("tool")
    if not isinstance(tool, Mapping):
        return None
    for name in ("threadsafe_gen", "threadsafe-gen"):
        table = tool.get(name)
        if isinstance(table, Mapping):
            return table
    return None


def find_pyproject(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above *start* with a ``[tool.threadsafe_gen]`` table.

    Returns ``None`` when there is none (built-in defaults apply).
    """
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except OSError:
                continue
            if _TABLE_RE.search(text) is None:  # parse only files that have our table
                continue
            if _table(_toml_loads(text, candidate)) is not None:
                return candidate
    return None


def load_config(
    path: str | os.PathLike[str] | None = None, *, start: str | os.PathLike[str] | None = None
) -> Config:
    """Read ``[tool.threadsafe_gen]`` from *path*, or from the nearest pyproject.toml.

    Args:
        path: an explicit pyproject.toml (``--config``); it must exist.
        start: where the upward search begins (default: the current directory).

    Returns:
        A :class:`Config`; built-in defaults when no file has the table.

    Raises:
        ConfigError: the file is missing, is not TOML, or the table has an unknown key or a
            value of the wrong type.
    """
    if path is not None:
        file = Path(path)
        if not file.is_file():
            msg = f"config file {os.fspath(path)!r} does not exist; pass a pyproject.toml"
            raise ConfigError(msg)
    else:
        found = find_pyproject(start)
        if found is None:
            return Config(root=Path(start if start is not None else os.getcwd()).resolve())
        file = found
    data = _toml_loads(file.read_text(encoding="utf-8"), file)
    table = _table(data)
    root = file.resolve().parent
    if table is None:
        return Config(path=file, root=root)
    lint, extra = _overrides(table, LintOptions, "tool.threadsafe_gen", file, ("fail-on", "check"))
    check: dict[str, Any] = {}
    check_extra: dict[str, Any] = {}
    if "check" in extra:
        if not isinstance(extra["check"], Mapping):
            msg = f"{file}: [tool.threadsafe_gen.check] must be a table, got {extra['check']!r}"
            raise ConfigError(msg)
        where = "tool.threadsafe_gen.check"
        check, check_extra = _overrides(extra["check"], CheckOptions, where, file, ("fail-on",))
    return Config(
        path=file,
        root=root,
        lint=lint,
        check=check,
        fail_on=_fail_on(extra, file),
        check_fail_on=_fail_on(check_extra, file),
    )


def _norm(key: str) -> str:
    return key.replace("_", "-")


def _overrides(
    table: Mapping[str, Any], cls: type[Any], where: str, file: Path, extra: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields of *cls* that *table* sets, each checked by *cls*; and its *extra* keys."""
    kinds = {n: k for n, k in option_kinds(cls).items() if n not in NOT_CONFIGURABLE}
    valid = [*(_norm(name) for name in kinds), *extra]
    fields: dict[str, Any] = {}
    others: dict[str, Any] = {}
    for key, value in table.items():
        k = _norm(key)
        name = k.replace("-", "_")
        if k in extra:
            others[k] = value
            continue
        if name not in kinds:
            close = difflib.get_close_matches(k, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            msg = f"{file}: unknown key {key!r} in [{where}]; valid keys: {', '.join(valid)}.{hint}"
            raise ConfigError(msg)
        fields[name] = _value(value, k, kinds[name], file)
        try:
            cls(**{name: fields[name]})  # the dataclass checks its own fields
        except (TypeError, ValueError) as exc:
            msg = f"{file}: {k} in [{where}] is not valid: {exc}"
            raise ConfigError(msg) from exc
    return fields, others


def _value(value: Any, key: str, kind: Kind, file: Path) -> Any:
    """A TOML *value* as the field's type: lists as tuples, ``"A, B"`` as ``("A", "B")``."""
    if kind == "strs":
        return _strs(value, key, file)
    if kind == "table":
        if not isinstance(value, Mapping):
            msg = f'{file}: {key} must be a table of glob = ["CODE", ...], got {value!r}'
            raise ConfigError(msg)
        return {str(glob): _strs(codes, f"{key}[{glob!r}]", file) for glob, codes in value.items()}
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _strs(value: Any, key: str, file: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    msg = f"{file}: {key} must be a list of strings, got {value!r} (type={type(value).__name__})"
    raise ConfigError(msg)


def _fail_on(extra: Mapping[str, Any], file: Path) -> str | None:
    value = extra.get("fail-on")
    if value is None or (isinstance(value, str) and value in _SEVERITIES):
        return value
    msg = f"{file}: fail-on must be one of {', '.join(_SEVERITIES)}, got {value!r}"
    raise ConfigError(msg)
