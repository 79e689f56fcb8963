"""The class index: which classes are data loaders, and which are Keras 3 PyDatasets.

Each file records the facts of its classes (:class:`ClassFacts`); after every file is read,
:class:`ClassIndex` answers across files, following base classes into other modules.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Literal

__all__ = [
    "Applies",
    "BUILTIN_CONTAINERS",
    "ClassFacts",
    "ClassIndex",
    "LOADER_BASE_NAMES",
    "is_container",
]

# NOTE [ Conditional findings ]
# Whether a class is a data loader can depend on a base class defined in another file. Each
# file is analysed once (possibly in a worker process) and records findings per class under
# a condition ("if this class is an index loader", "if it is a Keras 3 PyDataset"). After all
# files are read, the class index decides which conditions hold. This keeps one parse per
# file and lets the per-file work run in parallel.

#: When a finding about a class (or function) holds (see NOTE [ Conditional findings ]):
#: always; if the class is a data loader; if it subclasses a PyDataset (Keras 3 for sure); if
#: it subclasses a keras or tf.keras Sequence and no PyDataset (Keras 2 or 3: the code's file
#: may tell); if the function (of another file) is a generator function, one not made
#: thread-safe, or one whose generators another file's fit() shares with workers.
Applies = Literal[
    "always", "loader", "pydataset", "sequence", "generator", "unlocked-generator", "shared"
]

# Libraries whose ``Sequence``/``PyDataset`` classes are index loaders. Resolved names are
# compared on their root package and their last component, so every import spelling
# (``keras.utils.Sequence``, ``keras.src.utils...``, ``tensorflow.keras.utils.Sequence``,
# ``tf_keras.utils.data_utils.Sequence``) is recognised without listing each path.
_KERAS_ROOTS = frozenset({"keras", "tensorflow", "tf_keras"})
LOADER_BASE_NAMES = frozenset({"Sequence", "PyDataset"})

# Duck typing ("any class with __getitem__ and __len__") leaves out containers: classes that
# write items or look them up by key, and subclasses of the standard container types.
_CONTAINER_METHODS = frozenset(
    {"__setitem__", "__delitem__", "__contains__", "keys", "items", "values", "get", "append"}
)
_CONTAINER_MODULES = frozenset({"collections", "typing", "builtins"})
_CONTAINER_BASES = frozenset({"abc.Mapping", "abc.Sequence", "abc.MutableMapping"})
BUILTIN_CONTAINERS = frozenset({"dict", "list", "tuple", "set", "frozenset", "str", "bytes"})

#: How far base classes are followed (a guard against pathological hierarchies).
_MAX_DEPTH = 50


@dataclasses.dataclass
class ClassFacts:
    """What one class looks like, for deciding across files whether it is a loader."""

    qualname: str  # module-qualified, e.g. "pkg.data.Loader"
    bases: tuple[str, ...]  # resolved base qualnames ("" when unresolvable)
    defines_getitem: bool
    defines_len: bool
    # A mapping, cache or collection (writes items, or derives from a container type): it
    # has __getitem__/__len__ but is not an index-addressed data loader.
    container: bool = False


def is_container(methods: Iterable[str], bases: Iterable[str], builtin_base: bool) -> bool:
    """True for mappings, caches and collections: by their methods or their base classes.

    *builtin_base* says a base is written as a builtin container name (``class D(dict)``).
    """
    if builtin_base or any(m in _CONTAINER_METHODS for m in methods):
        return True
    return any(b.split(".")[0] in _CONTAINER_MODULES or b in _CONTAINER_BASES for b in bases)


def _is_known_base(qualname: str) -> bool:
    """A framework's own loader base class, known by its name."""
    parts = qualname.split(".")
    return len(parts) > 1 and parts[0] in _KERAS_ROOTS and parts[-1] in LOADER_BASE_NAMES


class ClassIndex:
    """Every class of the files linted together, answering the conditions of findings."""

    def __init__(
        self,
        classes: Iterable[ClassFacts],
        generators: Mapping[str, bool] | None = None,
        shared: Iterable[str] = (),
    ) -> None:
        self._index = {c.qualname: c for c in classes}
        # Generator functions: {qualified name: made thread-safe}, and those shared by workers.
        self._generators = dict(generators or {})
        self._shared = frozenset(shared)
        self._loader: dict[str, bool] = {}
        self._pydataset: dict[str, bool] = {}
        self._keras3: dict[str, bool] = {}

    def applies(self, applies: Applies, qualname: str) -> bool:
        """Whether a finding recorded under condition *applies* about class *qualname* holds."""
        if applies == "loader":
            return self.is_loader(qualname)
        if applies == "generator":
            return qualname in self._generators
        if applies == "unlocked-generator":
            return self._generators.get(qualname) is False
        if applies == "shared":
            return qualname in self._shared
        if applies in ("pydataset", "sequence"):
            # The rule is about subclasses, not the framework's own base class.
            if not self.is_pydataset(qualname) or _is_known_base(qualname):
                return False
            return self.is_keras3(qualname) == (applies == "pydataset")
        return True

    def is_keras3(self, q: str, depth: int = 0) -> bool:
        """A PyDataset or a subclass: Keras 3 for sure (a ``Sequence`` may be either Keras)."""
        if q in self._keras3:
            return self._keras3[q]
        self._keras3[q] = False  # cycle guard
        parts = q.split(".")
        cls = self._index.get(q)
        ans = (parts[0] in {"keras", "tensorflow"} and parts[-1] == "PyDataset") or (
            cls is not None
            and depth < _MAX_DEPTH
            and any(self.is_keras3(b, depth + 1) for b in cls.bases)
        )
        self._keras3[q] = ans
        return ans

    def is_pydataset(self, q: str, depth: int = 0) -> bool:
        """A Keras 3 PyDataset (or keras/tf.keras Sequence, its alias), or a subclass."""
        if q in self._pydataset:
            return self._pydataset[q]
        self._pydataset[q] = False  # cycle guard
        parts = q.split(".")
        # Keras 3 made `keras.utils.Sequence` an alias of PyDataset; tf_keras' Sequence
        # has no constructor arguments.
        known = parts[0] in {"keras", "tensorflow"} and parts[-1] in LOADER_BASE_NAMES
        known = known and "python" not in parts
        cls = self._index.get(q)
        ans = known or (
            cls is not None
            and depth < _MAX_DEPTH
            and any(self.is_pydataset(b, depth + 1) for b in cls.bases)
        )
        self._pydataset[q] = ans
        return ans

    def is_loader(self, q: str, depth: int = 0) -> bool:
        """A data loader: a framework loader base, a subclass, or duck-typed (not a container)."""
        if q in self._loader:
            return self._loader[q]
        self._loader[q] = False
        cls = self._index.get(q)
        # A framework base is known by its name, also when its own source is linted too
        # (linting keras itself: its PyDataset defines __getitem__ but no __len__).
        ans = _is_known_base(q)
        if not ans and cls is not None and depth < _MAX_DEPTH:
            ans = any(self.is_loader(b, depth + 1) for b in cls.bases) or (
                self._has(q, "defines_getitem")
                and self._has(q, "defines_len")
                and not self._has(q, "container")
            )
        self._loader[q] = ans
        return ans

    def _has(self, q: str, attr: Literal["defines_getitem", "defines_len", "container"]) -> bool:
        """The class or one of its bases (in the index) has the fact *attr*."""
        seen: set[str] = set()
        frontier = collections.deque([(q, 0)])  # breadth first: each class at its least depth
        while frontier:
            name, depth = frontier.popleft()
            cls = self._index.get(name)
            if cls is None or depth > _MAX_DEPTH or name in seen:
                continue
            seen.add(name)
            if getattr(cls, attr):
                return True
            frontier.extend((b, depth + 1) for b in cls.bases)
        return False
