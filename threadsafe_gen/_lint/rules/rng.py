"""Randomness rule: random numbers that workers share or replay (TSG551).

Reported for numpy's global RNG and unseeded or index-free generators inside
``__getitem__`` (and the methods it calls), inside generators that workers share, and for
an RNG object stored on a loader in ``__init__`` (docs/checks.md#tsg551).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..._findings import Severity
from ..astutil import FunctionNode, flatten_targets, mentions, self_attr, walk_local
from ..classes import Applies
from ..context import ClassInfo, ModuleInfo, Rule
from ..facts import Draft

__all__ = ["CODES", "RULES"]

CODES = frozenset({"TSG551"})

# numpy.random names that do NOT use the global RNG state.
_NUMPY_RNG_FACTORIES = frozenset({"default_rng", "RandomState", "Generator"})
_NUMPY_RNG_HARMLESS = frozenset(
    {"SeedSequence", "BitGenerator", "PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"}
)
# stdlib random names that do not draw from the shared global instance.
_STDLIB_RANDOM_HARMLESS = frozenset({"Random", "SystemRandom", "seed", "getstate", "setstate"})
_RNG_CTORS = frozenset(
    {
        "numpy.random.default_rng",
        "numpy.random.RandomState",
        "numpy.random.Generator",
        "random.Random",
    }
)
#: How many calls deep helper methods of __getitem__ are followed (self._augment -> ...).
_HELPER_DEPTH = 2


class _Scan:
    """One function's random-number calls, with the names derived from the index."""

    def __init__(
        self,
        module: ModuleInfo,
        fn: FunctionNode,
        where: str,
        index: str | None,
        cls: str,
        applies: Applies,
    ) -> None:
        self.module, self.fn, self.where, self.index = module, fn, where, index
        self.cls, self.applies = cls, applies
        # Names derived from the index (e.g. seed = self.seed + idx), a forward pass.
        self.tainted: set[str] = {index} if index else set()
        self.seeded_global = False

    def drafts(self) -> Iterator[Draft]:
        # `self.order = np.random.permutation(n)`: an epoch's order stored on the loader (set
        # lazily on first use, as Keras' image iterators do), which every worker must draw
        # alike; per-index seeding, this rule's fix, would break it.
        fn = self.fn
        me = fn.args.args[0].arg if fn.args.args else None
        stored_orders = {
            id(n.value)
            for n in walk_local(fn.body)
            if isinstance(n, ast.Assign)
            and me is not None
            and all(self_attr(t, me) is not None for t in n.targets)
        }
        nodes = sorted(
            (n for n in walk_local(fn.body) if hasattr(n, "lineno")),
            key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)),
        )
        for n in nodes:
            if (
                isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                and n.value is not None
                and mentions(n.value, self.tainted)
            ):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                for t in flatten_targets(targets):
                    if isinstance(t, ast.Name):
                        self.tainted.add(t.id)
            if not isinstance(n, ast.Call):
                continue
            q = self.module.names.call_name(n)
            if q is None:
                continue
            parts = q.split(".")
            if q.startswith("numpy.random.") and len(parts) == 3:
                if parts[2] == "permutation" and id(n) in stored_orders:
                    continue
                yield from self._numpy(n, parts[2])
            elif q.startswith("random.") and len(parts) == 2:
                yield from self._stdlib(n, parts[1])

    def _draft(
        self, node: ast.AST, text: str, hint: str | None, severity: Severity | None = None
    ) -> Draft:
        return self.module.draft(
            "TSG551",
            node,
            self.where,
            text,
            cls=self.cls,
            applies=self.applies,
            hint=hint,
            severity=severity,
        )

    def _numpy(self, n: ast.Call, name: str) -> Iterator[Draft]:
        where, index = self.where, self.index
        if name in _NUMPY_RNG_HARMLESS:
            return
        if name == "seed":
            self.seeded_global = self.seeded_global or (
                mentions(n, self.tainted) and bool(self.tainted)
            )
            return
        if name in _NUMPY_RNG_FACTORIES:
            if index is not None and not (n.args or n.keywords):
                yield self._draft(
                    n,
                    f"{where} creates numpy.random.{name}() without a seed: every call "
                    "draws fresh entropy, so batches are not reproducible and differ "
                    "with the worker count",
                    f"Seed it with the index: threadsafe_gen.rng_for({index}, "
                    f"epoch=epoch), or numpy.random.default_rng([seed, epoch, {index}]).",
                )
            elif index is not None and self.tainted and not mentions(n, self.tainted):
                yield self._draft(
                    n,
                    f"{where} seeds numpy.random.{name}(...) without the index "
                    f"`{index}`: every batch gets the same random numbers",
                    f"Include the index in the seed: threadsafe_gen.rng_for({index}, epoch=epoch).",
                )
            return
        if self.seeded_global:
            return
        yield self._draft(
            n,
            f"{where} calls numpy.random.{name}() on numpy's global RNG: forked "
            "workers inherit the same state and replay the same numbers, in every "
            "epoch (in a measured test loader: 24 of 64 augmentations distinct with 4 workers)",
            (
                f"Draw from threadsafe_gen.rng_for({index}, epoch=epoch) "
                "(a numpy Generator seeded by index and epoch)."
                if index
                else "Create one numpy.random.default_rng(seed) per generator call, "
                "seeded by a shard or worker id, or use threadsafe_gen.rng_for."
            ),
        )

    def _stdlib(self, n: ast.Call, name: str) -> Iterator[Draft]:
        if name in _STDLIB_RANDOM_HARMLESS or self.seeded_global:
            return
        index = self.index
        yield self._draft(
            n,
            f"{self.where} calls random.{name}() on Python's shared global RNG: the "
            "numbers depend on which worker ran which batch, so runs are not "
            "reproducible (Python reseeds it after fork, so it does not duplicate)",
            (
                f"Use random.Random(hash((seed, epoch, {index}))) or "
                f"threadsafe_gen.rng_for({index}, epoch=epoch)."
                if index
                else "Use a random.Random(seed) instance per generator call."
            ),
            Severity.INFO,
        )


def _stored_rngs(module: ModuleInfo, cls: ClassInfo) -> Iterator[Draft]:
    """An RNG object stored on the loader is copied with its state into every worker."""
    for attr, value, stmt in cls.init_assignments:
        q = module.names.call_name(value)
        if q is None or q not in _RNG_CTORS:
            continue
        yield module.draft(
            "TSG551",
            stmt,
            f"{cls.name}.__init__",
            f"{cls.name}.__init__ stores a random generator ({q}) on self.{attr}: pickling "
            "or forking copies it with its state into every worker, so the workers draw "
            "the same numbers (in a measured test loader: 2 of 8 values distinct with 4 workers, under fork "
            "and spawn alike)",
            cls=cls.qual,
            applies="loader",
            hint="Create the generator inside __getitem__ from the index: "
            "threadsafe_gen.rng_for(index, epoch=epoch).",
        )


def _helpers(module: ModuleInfo, cls: ClassInfo, getitem: FunctionNode) -> Iterator[Draft]:
    """Global RNG in methods that __getitem__ calls (``self._augment(x)``), 2 levels deep."""
    seen: set[str] = {"__getitem__"}
    frontier: list[tuple[FunctionNode, str]] = [(getitem, f"{cls.name}.__getitem__")]
    for _ in range(_HELPER_DEPTH):
        nxt: list[tuple[FunctionNode, str]] = []
        for fn, chain in frontier:
            if not fn.args.args:
                continue
            me = fn.args.args[0].arg
            for n in walk_local(fn.body):
                if not isinstance(n, ast.Call):
                    continue
                callee = self_attr(n.func, me)
                if callee is None or callee in seen or callee not in cls.methods:
                    continue
                seen.add(callee)
                helper = cls.methods[callee]
                where = f"{chain} -> {cls.name}.{callee}"
                yield from _Scan(module, helper, where, None, cls.qual, "loader").drafts()
                nxt.append((helper, where))
        frontier = nxt


def check(module: ModuleInfo) -> Iterator[Draft]:
    """TSG551 in loaders (stored RNGs, __getitem__ and its helpers) and shared generators."""
    for cls in module.checked_classes:
        yield from _stored_rngs(module, cls)
        getitem = cls.getitem
        if getitem is None:
            continue
        params = getitem.args.posonlyargs + getitem.args.args
        if len(params) >= 2:
            where = f"{cls.name}.__getitem__"
            yield from _Scan(module, getitem, where, params[1].arg, cls.qual, "loader").drafts()
        yield from _helpers(module, cls, getitem)
    for name in sorted(module.generators.shared_by_workers):
        fn = module.generators.functions.get(name)
        if fn is not None:
            yield from _Scan(module, fn, name, None, "", "always").drafts()


RULES = (Rule("global-rng-in-getitem", CODES, check),)
