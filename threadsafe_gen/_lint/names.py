"""Name and import resolution: which fully qualified name an expression refers to.

``from keras.utils import Sequence as S`` makes ``S`` mean ``keras.utils.Sequence``;
``import tensorflow as tf`` makes ``tf.keras.utils.Sequence`` mean
``tensorflow.keras.utils.Sequence``; relative imports resolve against the module's package;
module-level aliases (``Base = keras.utils.PyDataset``) resolve like imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

__all__ = ["Names", "package_of"]


def package_of(module: str, file: str) -> str:
    """The package relative imports start from: the module itself for ``__init__.py``."""
    if file.endswith("__init__.py"):
        return module
    return module.rsplit(".", 1)[0] if "." in module else ""


class Names:
    """The names one module binds: imports, module-level aliases, classes and functions.

    Use :meth:`add_import` for every import statement, :meth:`add_aliases` once after, and
    register the module's own classes and functions; then :meth:`qualname` resolves.
    """

    def __init__(self, module: str, package: str) -> None:
        self.module = module
        self.package = package
        self.imports: dict[str, str] = {}
        self.local_classes: set[str] = set()
        self.module_funcs: set[str] = set()

    def add_import(self, node: ast.Import | ast.ImportFrom) -> None:
        """Record what the names bound by one import statement refer to."""
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    self.imports[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    self.imports[top] = top
            return
        base = node.module or ""
        if node.level:
            parts = self.package.split(".") if self.package else []
            keep = len(parts) - (node.level - 1)
            prefix = ".".join(parts[: max(keep, 0)])
            base = ".".join(p for p in (prefix, base) if p)
        for a in node.names:
            if a.name == "*":
                continue
            self.imports[a.asname or a.name] = f"{base}.{a.name}" if base else a.name

    def add_aliases(self, body: Iterable[ast.stmt]) -> None:
        """Module-level aliases of imported names: ``Base = keras.utils.PyDataset``.

        Called before the module's own classes and functions are registered, so only
        imported names are followed.
        """
        for node in body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, (ast.Name, ast.Attribute))
            ):
                target = node.targets[0].id
                q = self.qualname(node.value)
                if q is not None and target not in self.imports:
                    self.imports[target] = q

    def qualname(self, node: ast.AST) -> str | None:
        """The fully qualified name an expression refers to, through this module's imports."""
        attrs: list[str] = []
        while isinstance(node, ast.Attribute):  # a loop: attribute chains may be very long
            attrs.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self._name(node.id)
        if not base:
            return None
        return ".".join([base, *reversed(attrs)])

    def _name(self, name: str) -> str | None:
        if name in self.imports:
            return self.imports[name]
        if name in self.local_classes or name in self.module_funcs:
            return f"{self.module}.{name}"
        if name == "open":
            return "builtins.open"
        return None

    def call_name(self, node: ast.AST) -> str | None:
        """The qualified name of the function *node* calls, if it is a call."""
        return self.qualname(node.func) if isinstance(node, ast.Call) else None
