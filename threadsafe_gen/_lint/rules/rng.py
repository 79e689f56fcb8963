"""Randomness rule: random numbers that workers share or replay (TSG551).

Reported, once per method with every call site listed, for random numbers drawn inside
``__getitem__`` (and the methods it calls) or inside generators that workers share: numpy's
global RNG, the random state inside augmentation pipelines (albumentations, imgaug),
TensorFlow's stateful random ops, generators seeded without the index, and (at info
severity) Python's ``random`` module, which is reseeded in forked children. Also an RNG
object stored on a loader in ``__init__`` when the workers draw from it; one used only in
``on_epoch_end`` (in the parent) is fine. See docs/checks.md#tsg551.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from collections.abc import Callable, Iterator

from ..._registry import Severity
from ..._text import one_line
from ..astutil import (
    FunctionNode,
    first_param,
    flatten_targets,
    mentions,
    reachable_methods,
    self_attr,
    walk_local,
)
from ..classes import Applies
from ..context import HELPER_DEPTH, ClassInfo, ModuleInfo, Rule
from ..facts import At, Draft, Span

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
# TensorFlow's stateful random ops (tf.random.stateless_* and tf.image.stateless_* are pure).
_TF_STATEFUL = frozenset(
    {"uniform", "normal", "truncated_normal", "shuffle", "categorical", "gamma", "poisson"}
)
_KERAS_ROOTS = frozenset({"keras", "tensorflow", "tf_keras"})
# Augmentation libraries whose pipelines draw from random state made in the parent.
_AUGMENT_LIBRARIES = ("albumentations", "imgaug")
_AUGMENT_KEYWORDS = frozenset({"image", "images"})
_AUGMENT_METHODS = frozenset(
    {
        "augment_image",
        "augment_images",
        "augment_batch",
        "augment_batches",
        "augment_segmentation_maps",
        "augment_keypoints",
        "augment_bounding_boxes",
    }
)
# Libraries whose functions take image=/images= without drawing random numbers.
_NOT_AUGMENTERS = frozenset(
    {"tensorflow", "keras", "tf_keras", "numpy", "cv2", "PIL", "skimage", "scipy", "torch",
     "torchvision", "jax"}
)  # fmt: skip
# Transforms that draw no random numbers (their default p is 1): a file that builds its
# pipelines only from these (a validation pipeline) applies no random augmentation.
_DETERMINISTIC_TRANSFORMS = frozenset(
    {"Compose", "Sequential", "Resize", "Normalize", "PadIfNeeded", "CenterCrop", "Crop",
     "LongestMaxSize", "SmallestMaxSize", "ToFloat", "FromFloat", "ToTensorV2", "Lambda",
     "BboxParams", "KeypointParams", "CenterCropToFixedSize", "CenterPadToFixedSize", "Noop",
     "Identity", "augmenters", "pytorch", "core"}
)  # fmt: skip
# Reseeding a pipeline or imgaug's global RNG (from the index: then it is per batch).
_RESEED_METHODS = frozenset({"set_random_seed", "seed_", "reseed_"})
_RESEED_FUNCTIONS = frozenset({"imgaug.seed", "imgaug.random.seed"})
#: Keras calls these in the training process, between epochs: not in the workers.
_PARENT_METHODS = ("__init__", "on_epoch_end", "on_epoch_begin", "__len__")
#: At most this many call sites are listed in one finding.
_MAX_LISTED = 6


@dataclasses.dataclass(frozen=True)
class _Kind:
    """One way of drawing shared random numbers: how a finding describes and fixes it."""

    severity: Severity
    what: str  # after the list of calls
    hint_index: str  # the fix in __getitem__ ({index} is the index argument)
    hint_generator: str  # the fix in a generator


_MEASURED = "in a measured test loader: 24 of 64 augmentations distinct with 4 workers"
_KINDS = {
    "numpy": _Kind(
        Severity.WARNING,
        "on numpy's global RNG: forked workers inherit the same state and replay the same "
        f"numbers, in every epoch ({_MEASURED})",
        "Draw from threadsafe_gen.rng_for({index}, epoch=epoch) (a numpy Generator seeded "
        "by index and epoch).",
        "Create one numpy.random.default_rng(seed) per generator call, seeded by a shard or "
        "worker id, or use threadsafe_gen.rng_for.",
    ),
    "pipeline": _Kind(
        Severity.WARNING,
        "on an augmentation pipeline, whose random state was made in the parent "
        "(albumentations keeps it in the pipeline, imgaug and older albumentations in a "
        "global RNG): forked workers inherit the same state and apply the same augmentations",
        "Reseed the pipeline from the index and epoch before using it (albumentations: "
        "pipeline.set_random_seed(seed); imgaug: aug.seed_(seed)), or build it per worker "
        "with threadsafe_gen.per_process.",
        "Build the pipeline inside the generator, seeded by a shard or worker id "
        "(albumentations: Compose(..., seed=seed)).",
    ),
    "tensorflow": _Kind(
        Severity.WARNING,
        "(stateful random ops of TensorFlow or Keras): their random state was made in the "
        "parent, so forked workers inherit it and draw the same numbers",
        "Use the stateless ops seeded from the index: tf.image.stateless_random_flip_left_right"
        "(x, seed=(epoch, {index})), tf.random.stateless_uniform(..., seed=(epoch, {index})).",
        "Use the stateless ops (tf.random.stateless_*) seeded by a shard or worker id.",
    ),
    "constant": _Kind(
        Severity.WARNING,
        "with a seed that does not involve the index: every batch gets the same random numbers",
        "Include the index in the seed: threadsafe_gen.rng_for({index}, epoch=epoch).",
        "Seed it per generator call, by a shard or worker id.",
    ),
    "stdlib": _Kind(
        Severity.INFO,
        "on Python's shared global RNG: the numbers depend on which worker ran which batch, "
        "so runs are not reproducible (Python reseeds it after fork, so it does not duplicate)",
        "Use random.Random(hash((seed, epoch, {index}))) or "
        "threadsafe_gen.rng_for({index}, epoch=epoch).",
        "Use a random.Random(seed) instance per generator call.",
    ),
}
_ORDER = ("numpy", "pipeline", "tensorflow", "constant", "stdlib")


class _Scan:
    """One function's shared random draws, with the names derived from the index."""

    def __init__(
        self,
        module: ModuleInfo,
        fn: FunctionNode,
        index: str | None,
        random_pipelines: Callable[[], bool],
    ) -> None:
        self.module, self.fn, self.index = module, fn, index
        self.random_pipelines = random_pipelines  # the module's, worked out on first use
        # Names derived from the index (e.g. seed = self.seed + idx), a forward pass.
        self.tainted: set[str] = {index} if index else set()
        self.seeded_global = False  # np.random.seed(<index-derived>)
        self.seeded_pipeline = False  # pipeline.set_random_seed(<index-derived>)
        self.augments = any(
            q.split(".")[0] in _AUGMENT_LIBRARIES for q in module.names.imports.values()
        )
        self.hits: list[tuple[str, ast.Call, str]] = []  # (kind, call, shown)

    def run(self) -> list[tuple[str, ast.Call, str]]:
        # `self.order = np.random.permutation(n)`: an epoch's order stored on the loader (set
        # lazily on first use, as Keras' image iterators do), which every worker must draw
        # alike; per-index seeding, this rule's fix, would break it.
        fn = self.fn
        me = first_param(fn)
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
            if isinstance(n, ast.Call) and id(n) not in stored_orders:
                self._call(n)
        return self.hits

    def _seeded_by_index(self, n: ast.Call) -> bool:
        return bool(self.tainted) and mentions(n, self.tainted)

    def _call(self, n: ast.Call) -> None:
        q = self.module.names.call_name(n)
        if q is not None:
            parts = q.split(".")
            if q.startswith("numpy.random.") and len(parts) == 3:
                self._numpy(n, parts[2])
                return
            if q.startswith("random.") and len(parts) == 2:
                if parts[1] not in _STDLIB_RANDOM_HARMLESS and not self.seeded_global:
                    self.hits.append(("stdlib", n, f"{q}()"))
                return
            if self._tensorflow(n, q, parts):
                return
            if q in _RESEED_FUNCTIONS:
                self.seeded_pipeline = self.seeded_pipeline or self._seeded_by_index(n)
                return
        if self.augments:
            self._pipeline(n)

    def _numpy(self, n: ast.Call, name: str) -> None:
        if name in _NUMPY_RNG_HARMLESS:
            return
        if name == "seed":
            self.seeded_global = self.seeded_global or self._seeded_by_index(n)
            return
        if name in _NUMPY_RNG_FACTORIES:
            # Unseeded, a generator made per call draws fresh OS entropy: every call (and
            # every worker) differs, which is what an online simulator wants (issue 10
            # item 2). Seeded without the index, every batch draws the same numbers.
            if self.index is not None and (n.args or n.keywords) and not mentions(n, self.tainted):
                self.hits.append(("constant", n, f"numpy.random.{name}(...)"))
            return
        if not self.seeded_global:
            self.hits.append(("numpy", n, f"numpy.random.{name}()"))

    def _tensorflow(self, n: ast.Call, q: str, parts: list[str]) -> bool:
        """Record TensorFlow's (and Keras 3's) stateful random ops, and Keras' numpy-based
        image helpers (``random_rotation`` & co.)."""
        last = parts[-1]
        if parts[0] not in _KERAS_ROOTS:
            return False
        tf_image = (
            parts[0] == "tensorflow" and parts[1:2] == ["image"] and last.startswith("random_")
        )
        if (tf_image and len(parts) == 3) or (
            len(parts) == 3 and parts[1] == "random" and last in _TF_STATEFUL
        ):
            seed = next((k.value for k in n.keywords if k.arg == "seed"), None)
            if seed is None or not mentions(seed, self.tainted):  # seed=(epoch, idx): per batch
                self.hits.append(("tensorflow", n, f"{q}()"))
            return True
        if "preprocessing" in parts and last.startswith("random_") and not self.seeded_global:
            self.hits.append(("numpy", n, f"{q}()"))  # keras' random_rotation & co.
            return True
        return False

    def _pipeline(self, n: ast.Call) -> None:
        """``self.augment(image=x)``, ``aug.augment_images(x)``: a pipeline made elsewhere."""
        f = n.func
        if isinstance(f, ast.Attribute) and f.attr in _RESEED_METHODS:
            self.seeded_pipeline = self.seeded_pipeline or self._seeded_by_index(n)
            return
        if self.seeded_pipeline or isinstance(f, ast.Call):
            return  # a pipeline built here, in the call, draws fresh state
        names = self.module.names
        if isinstance(f, ast.Name) and (f.id in names.module_funcs or f.id in names.local_classes):
            return  # the module's own function or class, not a pipeline object
        q = names.qualname(f)
        if q is not None and q.split(".")[0] in _NOT_AUGMENTERS:
            return  # tf.image.resize(images=...) and the like
        keywords = {k.arg for k in n.keywords if k.arg is not None}
        if isinstance(f, ast.Attribute) and f.attr in _AUGMENT_METHODS:
            shown = f"{one_line(ast.unparse(f), 60)}(...)"
        elif keywords & _AUGMENT_KEYWORDS:
            key = sorted(keywords & _AUGMENT_KEYWORDS)[0]
            shown = f"{one_line(ast.unparse(f), 60)}({key}=...)"
        else:
            return
        if self.random_pipelines():
            self.hits.append(("pipeline", n, shown))


def _random_transforms(module: ModuleInfo) -> bool:
    """Whether the module may apply random augmentations: it uses a transform of
    albumentations or imgaug that is not deterministic, or none at all (its pipelines come
    from elsewhere); not when it builds only resize/normalise pipelines."""
    names = module.names
    used: set[str] = set()
    for n in ast.walk(module.tree):
        if isinstance(n, (ast.Attribute, ast.Name)) and isinstance(n.ctx, ast.Load):
            q = names.qualname(n)
            if q is not None and q.split(".")[0] in _AUGMENT_LIBRARIES and "." in q:
                used.add(q.rsplit(".", 1)[-1])
    return not used or bool(used - _DETERMINISTIC_TRANSFORMS)


def _calls_text(calls: list[tuple[ast.Call, str]]) -> list[str | At]:
    """``a()`` alone, or ``a() (line 3), b() (line 5) and c() (line 9)``."""
    if len(calls) == 1:
        return [calls[0][1]]
    listed = calls[:_MAX_LISTED]
    out: list[str | At] = []
    for i, (node, shown) in enumerate(listed):
        if i:
            out.append(" and " if i == len(listed) - 1 and len(calls) == len(listed) else ", ")
        out += [shown, " (", At(column=False, span=Span.of(node)), ")"]
    if len(calls) > len(listed):
        out.append(f" and {len(calls) - len(listed)} more")
    return out


def _draft(
    module: ModuleInfo,
    hits: list[tuple[str, ast.Call, str]],
    where: str,
    path: str,
    index: str | None,
    cls: str,
    applies: Applies,
) -> Iterator[Draft]:
    """One finding for one function's *hits*, the most severe kind first."""
    if not hits:
        return
    by_kind: dict[str, list[tuple[ast.Call, str]]] = {}
    for kind, node, shown in hits:
        by_kind.setdefault(kind, []).append((node, shown))
    kinds = [k for k in _ORDER if k in by_kind]
    text: list[str | At] = [f"{where} "]
    for i, kind in enumerate(kinds):
        text += ["; it also calls " if i else "calls ", *_calls_text(by_kind[kind])]
        text.append(f" {_KINDS[kind].what}")
    first = _KINDS[kinds[0]]
    hint = first.hint_index.format(index=index) if index else first.hint_generator
    yield module.draft(
        "TSG551",
        by_kind[kinds[0]][0][0],
        path,
        tuple(text),
        cls=cls,
        applies=applies,
        hint=hint,
        severity=None if first.severity is Severity.WARNING else first.severity,
    )


def _worker_draws(cls: ClassInfo, attr: str) -> str | None:
    """Where the workers read ``self.<attr>``: the chain from __getitem__; ``None`` when only
    the parent does (__init__, on_epoch_end and the methods they call)."""
    reads: set[str] = set()
    for name, fn in cls.methods.items():
        me = first_param(fn)
        if me is not None and any(
            self_attr(n, me) == attr
            and isinstance(n, ast.Attribute)
            and isinstance(n.ctx, ast.Load)
            for n in walk_local(fn.body)
        ):
            reads.add(name)
    worker = [n for n in cls.getitem_reach if n in reads]
    if worker:
        return cls.chain(cls.getitem_reach[worker[0]])
    parent: set[str] = set()
    for start in _PARENT_METHODS:
        if start in cls.methods:
            parent.update(reachable_methods(cls.methods, start, HELPER_DEPTH))
    if cls.getitem is not None or (reads and reads <= parent):
        return None
    return "the inherited __getitem__"  # drawn where this class cannot show


def _stored_rngs(module: ModuleInfo, cls: ClassInfo) -> Iterator[Draft]:
    """An RNG object stored on the loader is copied with its state into every worker."""
    for attr, value, stmt in cls.init_assignments:
        q = module.names.call_name(value)
        if q is None or q not in _RNG_CTORS:
            continue
        drawn = _worker_draws(cls, attr)
        if drawn is None:
            continue  # used only in the parent (on_epoch_end shuffles): issue 10 item 3
        yield module.draft(
            "TSG551",
            stmt,
            f"{cls.name}.__init__",
            f"{cls.name}.__init__ stores a random generator ({q}) on self.{attr} and "
            f"{drawn} draws from it: pickling or forking copies it with its state into every "
            "worker, so the workers draw the same numbers (in a measured test loader: 2 of 8 "
            "values distinct with 4 workers, under fork and spawn alike)",
            cls=cls.qual,
            applies="loader",
            hint="Create the generator inside __getitem__ from the index: "
            "threadsafe_gen.rng_for(index, epoch=epoch).",
        )


#: Base classes whose frameworks reseed Python's and numpy's global RNGs in every worker
#: process (torch.utils.data does, per worker and epoch, since torch 1.9): global draws in
#: their datasets differ between workers, so TSG551 would be a false alarm there.
_RESEEDING_BASES = ("torch.utils.data.",)


def check(module: ModuleInfo) -> Iterator[Draft]:
    """TSG551 in loaders (stored RNGs, __getitem__ and its helpers) and shared generators."""
    pipelines = functools.cache(lambda: _random_transforms(module))
    for cls in module.checked_classes:
        if any(base.startswith(_RESEEDING_BASES) for base in cls.facts.bases):
            continue
        yield from _stored_rngs(module, cls)
        getitem = cls.getitem
        if getitem is None:
            continue
        params = getitem.args.posonlyargs + getitem.args.args
        index = params[1].arg if len(params) >= 2 else None
        for name, chain in cls.getitem_reach.items():
            method = cls.methods[name]
            hits = _Scan(module, method, index if name == "__getitem__" else None, pipelines).run()
            yield from _draft(
                module, hits, cls.chain(chain), f"{cls.name}.{name}", index, cls.qual, "loader"
            )
    shared = module.generators.shared_by_workers
    for name, gen in module.generators.functions.items():
        hits = _Scan(module, gen, None, pipelines).run()
        if name in shared:
            yield from _draft(module, hits, name, name, None, "", "always")
        else:  # if another file's fit() shares its generators with workers (item 12)
            yield from _draft(module, hits, name, name, None, f"{module.module}.{name}", "shared")


RULES = (Rule("global-rng-in-getitem", CODES, check),)
