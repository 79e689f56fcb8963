"""What a rule sees of one parsed module (:class:`ModuleInfo`, :class:`ClassInfo`), and what
a rule is (:class:`Rule`).

The module is walked once here (imports, classes, assignments, the calls on ``fit()``
lines); rules then read these collections instead of walking the whole tree again, which
keeps a lint of a whole package within seconds.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping

from .._registry import Severity
from .astutil import (
    FunctionNode,
    expressions_on_lines,
    is_stub,
    iter_statements,
    match_lines,
    pairs,
    reachable_methods,
    self_attr,
    walk_local,
)
from .classes import BUILTIN_CONTAINERS, Applies, ClassFacts, is_container
from .facts import Draft, Span, Text
from .generators import GeneratorFacts
from .known import ALL_LOCKS, lock_like
from .names import Names, package_of

__all__ = ["ClassInfo", "ModuleInfo", "Rule"]

#: How many calls deep the methods that __getitem__ calls are followed (self._load -> ...).
HELPER_DEPTH = 3
_FIT_CALL_RE = re.compile(rb"\.(?:fit|evaluate|predict)(?:_generator)?\s*\(", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Rule:
    """One lint rule: the codes it reports and the function that finds them in a module.

    Attributes:
        name: a short name for tests and profiles (``"next-without-lock"``).
        codes: every code *check* may report; each code belongs to exactly one rule module.
        check: reads a :class:`ModuleInfo` and yields :class:`~.facts.Draft` findings.
    """

    name: str
    codes: frozenset[str]
    check: Callable[[ModuleInfo], Iterable[Draft]]


class ModuleInfo:
    """One parsed module as the rules see it.

    Args:
        tree: the parsed module.
        raw: its source bytes (for cheap pre-filters: a rule whose trigger words are absent
            from the file cannot fire).
        file: the path shown in findings.
        module: its dotted module name.
    """

    def __init__(self, tree: ast.Module, raw: bytes, file: str, module: str) -> None:
        self.tree = tree
        self.raw = raw
        self.file = file
        self.module = module
        self.has_yield = b"yield" in raw
        self.has_lambda = b"lambda" in raw
        self.has_lock = any(w in raw for w in (b"lock", b"Lock", b"mutex"))
        self.has_procs = any(w in raw for w in (b"Pool", b"Process", b"use_multiprocessing"))
        self.names = Names(module, package_of(module, file))
        fit_lines = match_lines(_FIT_CALL_RE, raw)
        self.attr_calls: list[ast.Call] = [
            n
            for n in (expressions_on_lines(tree.body, fit_lines) if fit_lines else ())
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        ]
        self.assigns: list[ast.Assign] = []
        classdefs: list[ast.ClassDef] = []
        # Statements only: expressions are most of a tree and hold nothing collected here.
        for node in iter_statements(tree.body):
            if isinstance(node, ast.Assign):
                self.assigns.append(node)
            elif isinstance(node, ast.ClassDef):
                classdefs.append(node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self.names.add_import(node)
        self.names.add_aliases(tree.body)
        self.functions: dict[str, FunctionNode] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.ClassDef):
                self.names.local_classes.add(stmt.name)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[stmt.name] = stmt
                self.names.module_funcs.add(stmt.name)
        self.generators = GeneratorFacts(
            self.names,
            tree.body,
            self.assigns,
            self.attr_calls,
            has_yield=self.has_yield,
            lock_wrappers=lambda: {
                c.name for c in self.classes if "__next__" in c.methods and c.lock_attrs
            },
        )
        self.classes = [ClassInfo(self, node) for node in classdefs]

    @property
    def class_facts(self) -> list[ClassFacts]:
        """The facts of every class, for the class index."""
        return [c.facts for c in self.classes]

    @property
    def generator_facts(self) -> dict[str, bool]:
        """``{qualified name: made thread-safe}`` of the module's generator functions, for
        the index (a generator function imported elsewhere is decided there)."""
        gens = self.generators
        return {f"{self.module}.{name}": name in gens.threadsafe for name in gens.functions}

    @property
    def checked_classes(self) -> Iterable[ClassInfo]:
        """Classes a class rule may apply to: possible loaders, and iterators."""
        return (c for c in self.classes if c.checked)

    def draft(
        self,
        code: str,
        node: ast.AST,
        where: str,
        text: str | Text,
        *,
        cls: str = "",
        applies: Applies = "always",
        hint: str | None = None,
        severity: Severity | None = None,
    ) -> Draft:
        """A draft finding at *node*, about *where* (``Loader.__init__``) in this module."""
        path = f"{self.module}.{where}" if where else self.module
        parts = (text,) if isinstance(text, str) else text
        return Draft(code, path, Span.of(node), parts, hint, severity, cls, applies)


class ClassInfo:
    """One class statement of a module, with what several rules ask about it."""

    def __init__(self, module: ModuleInfo, node: ast.ClassDef) -> None:
        self.module = module
        self.node = node
        self.name = node.name
        self.qual = f"{module.module}.{node.name}"
        bases = tuple(module.names.qualname(b) or "" for b in node.bases)
        self.methods: dict[str, FunctionNode] = {
            s.name: s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        builtin_base = any(
            isinstance(b, ast.Name)
            and b.id in BUILTIN_CONTAINERS
            and b.id not in module.names.imports
            for b in node.bases
        )
        self.facts = ClassFacts(
            self.qual,
            bases,
            "__getitem__" in self.methods,
            "__len__" in self.methods,
            is_container(self.methods, bases, builtin_base),
        )
        could_be_loader = any(bases) or (self.facts.defines_getitem and self.facts.defines_len)
        # Without a base class or both protocol methods it can never be a loader, and
        # without __next__ it is no iterator: no class rule applies.
        self.checked = could_be_loader or "__next__" in self.methods

    @functools.cached_property
    def lock_attrs(self) -> Mapping[str, ast.AST]:
        """Attributes of ``self`` that hold a lock: assigned a lock, or named like one.

        Only looked for in iterators and index loaders of files that mention locks.
        """
        wants = self.module.has_lock and ("__next__" in self.methods or self.facts.defines_getitem)
        if not wants:
            return {}
        call_name = self.module.names.call_name
        out: dict[str, ast.AST] = {}
        for stmt in self.node.body:  # class attributes: `lock = threading.Lock()`
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t, v in pairs(targets, stmt.value):
                    if isinstance(t, ast.Name) and (call_name(v) in ALL_LOCKS or lock_like(t.id)):
                        out.setdefault(t.id, stmt)
        for fn in self.node.body:
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not fn.args.args:
                continue
            self_name = fn.args.args[0].arg
            for n in walk_local(fn.body):
                if isinstance(n, (ast.Assign, ast.AnnAssign)):
                    targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                    for t, v in pairs(targets, n.value):
                        attr = self_attr(t, self_name)
                        if attr is None:
                            continue
                        if call_name(v) in ALL_LOCKS or lock_like(attr):
                            out.setdefault(attr, n)
        return out

    @functools.cached_property
    def init_assignments(self) -> list[tuple[str, ast.expr, ast.stmt]]:
        """``(attr, value, statement)`` for each ``self.attr = value`` in ``__init__``."""
        init = self.methods.get("__init__")
        if init is None or not init.args.args:
            return []
        me = init.args.args[0].arg
        out: list[tuple[str, ast.expr, ast.stmt]] = []
        for n in walk_local(init.body):
            if not isinstance(n, (ast.Assign, ast.AnnAssign)) or n.value is None:
                continue
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t, v in pairs(targets, n.value):
                attr = self_attr(t, me)
                if attr is not None:
                    out.append((attr, v, n))
        return out

    @functools.cached_property
    def getitem_reach(self) -> Mapping[str, tuple[str, ...]]:
        """The methods a serving ``__getitem__`` runs (itself and those it calls through
        ``self.m(...)``, :data:`HELPER_DEPTH` deep), each with its call chain; ``{}`` without one.
        """
        if self.getitem is None:
            return {}
        return reachable_methods(self.methods, "__getitem__", HELPER_DEPTH)

    def chain(self, names: tuple[str, ...]) -> str:
        """A call chain as messages show it: ``Loader.__getitem__ -> Loader._load``."""
        return " -> ".join(f"{self.name}.{n}" for n in names)

    @property
    def getitem(self) -> FunctionNode | None:
        """``__getitem__`` when it serves data (not a stub that only passes or raises)."""
        fn = self.methods.get("__getitem__")
        return fn if fn is not None and not is_stub(fn.body) else None
