"""``[tool.threadsafe_gen]`` in pyproject.toml: defaults for ``threadsafe-gen lint`` and ``check``.

Found by walking up from the current directory to the first ``pyproject.toml`` that has the
table (like ruff and mypy, a pyproject.toml without it does not stop the walk at a nested
package, but the nearest file with the table wins). Keys are kebab-case; underscores are
accepted too. Command-line flags override the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["CheckDefaults", "Config", "find_pyproject", "load_config"]

_SEVERITIES = ("error", "warning", "info")
_TABLE_RE = re.compile(r"""^\s*\[\s*tool\s*\.\s*["']?threadsafe[_-]gen\b""", re.MULTILINE)
_START_METHODS = ("fork", "spawn", "forkserver")
_LINT_KEYS = (
    "select",
    "ignore",
    "per-file-ignores",
    "exclude",
    "fail-on",
    "report-unused-ignores",
    "check",
)
_CHECK_KEYS = (
    "workers",
    "use-multiprocessing",
    "start-method",
    "timeout",
    "batch-timeout",
    "max-batches",
    "ignore",
    "fail-on",
)


@dataclasses.dataclass(frozen=True)
class CheckDefaults:
    """``[tool.threadsafe_gen.check]``: defaults for ``threadsafe-gen check``."""

    workers: int | None = None
    use_multiprocessing: bool | None = None
    start_method: str | None = None
    timeout: float | None = None
    batch_timeout: float | None = None
    max_batches: int | None = None
    ignore: tuple[str, ...] = ()
    fail_on: str | None = None


@dataclasses.dataclass(frozen=True)
class Config:
    """The settings read from ``[tool.threadsafe_gen]`` (all optional).

    Attributes:
        path: the pyproject.toml they came from, or ``None`` for built-in defaults.
        root: the folder of that file (globs and reported paths are relative to it), else
            the current directory.
    """

    path: Path | None = None
    root: Path = dataclasses.field(default_factory=Path.cwd)
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    fail_on: str | None = None
    report_unused_ignores: bool = False
    check: CheckDefaults = dataclasses.field(default_factory=CheckDefaults)


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
    return _parse(table, file, root)


def _norm(key: str) -> str:
    return key.replace("_", "-")


def _unknown(key: str, valid: tuple[str, ...], where: str, file: Path) -> ConfigError:
    close = difflib.get_close_matches(_norm(key), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    msg = f"{file}: unknown key {key!r} in [{where}]; valid keys: {', '.join(valid)}.{hint}"
    return ConfigError(msg)


def _strs(value: Any, key: str, file: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    msg = f"{file}: {key} must be a list of strings, got {value!r} (type={type(value).__name__})"
    raise ConfigError(msg)


def _choice(value: Any, key: str, choices: tuple[str, ...], file: Path) -> str:
    if isinstance(value, str) and value in choices:
        return value
    msg = f"{file}: {key} must be one of {', '.join(choices)}, got {value!r}"
    raise ConfigError(msg)


def _number(value: Any, key: str, file: Path, *, integer: bool) -> Any:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        msg = f"{file}: {key} must be {kind}, got {value!r}"
        raise ConfigError(msg)
    return value


def _bool(value: Any, key: str, file: Path) -> bool:
    if isinstance(value, bool):
        return value
    msg = f"{file}: {key} must be true or false, got {value!r}"
    raise ConfigError(msg)


def _parse(table: Mapping[str, Any], file: Path, root: Path) -> Config:
    values: dict[str, Any] = {}
    for key, value in table.items():
        k = _norm(key)
        if k not in _LINT_KEYS:
            raise _unknown(key, _LINT_KEYS, "tool.threadsafe_gen", file)
        if k in ("select", "ignore", "exclude"):
            values[k.replace("-", "_")] = _strs(value, k, file)
        elif k == "per-file-ignores":
            if not isinstance(value, Mapping):
                msg = f'{file}: per-file-ignores must be a table of glob = ["CODE", ...], got {value!r}'
                raise ConfigError(msg)
            values["per_file_ignores"] = {
                str(glob): _strs(codes, f"per-file-ignores[{glob!r}]", file)
                for glob, codes in value.items()
            }
        elif k == "fail-on":
            values["fail_on"] = _choice(value, k, _SEVERITIES, file)
        elif k == "report-unused-ignores":
            values["report_unused_ignores"] = _bool(value, k, file)
        elif k == "check":
            if not isinstance(value, Mapping):
                msg = f"{file}: [tool.threadsafe_gen.check] must be a table, got {value!r}"
                raise ConfigError(msg)
            values["check"] = _parse_check(value, file)
    return Config(path=file, root=root, **values)


def _parse_check(table: Mapping[str, Any], file: Path) -> CheckDefaults:
    values: dict[str, Any] = {}
    for key, value in table.items():
        k = _norm(key)
        if k not in _CHECK_KEYS:
            raise _unknown(key, _CHECK_KEYS, "tool.threadsafe_gen.check", file)
        name = k.replace("-", "_")
        if k in ("workers", "max-batches"):
            values[name] = _number(value, k, file, integer=True)
        elif k in ("timeout", "batch-timeout"):
            values[name] = float(_number(value, k, file, integer=False))
        elif k == "use-multiprocessing":
            values[name] = _bool(value, k, file)
        elif k == "start-method":
            values[name] = _choice(value, k, _START_METHODS, file)
        elif k == "ignore":
            values[name] = _strs(value, k, file)
        elif k == "fail-on":
            values[name] = _choice(value, k, _SEVERITIES, file)
    return CheckDefaults(**values)
