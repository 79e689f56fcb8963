"""The lint rules, one module per family; each module declares the codes it owns in ``CODES``.

Adding a rule is adding a module here (with ``CODES`` and ``RULES``) and listing it below;
tests/test_lint_rules_registry.py checks that every lint code of the registry is declared by
exactly one module.

- ``pickling``: unpicklable objects stored on a loader (TSG151);
- ``fork``: connections, sockets and open files stored on a loader (TSG251);
- ``threads``: iterator locks and ``__getitem__`` state (TSG351, TSG352, TSG353);
- ``api``: Keras' API: fit(generator), ``super().__init__``, ``fit_generator``
  (TSG451, TSG651, TSG652);
- ``rng``: global or shared random numbers (TSG551);
- ``performance``: a lock around the whole ``__getitem__`` (TSG751);
- ``scripts``: process workers started without a ``__main__`` guard (TSG851);
- ``frameworks``: PyTorch DataLoaders and Grain transforms: lambdas for spawned workers,
  unsharded IterableDatasets, global RNG in a Grain Map (TSG152, TSG452, TSG552);
- ``unused``: suppressions that suppress nothing, built by the engine (TSG653);
- ``files``: files that could not be analysed, built by the engine (TSG852).
"""

from __future__ import annotations

from types import ModuleType

from ..context import Rule
from . import api, files, fork, frameworks, performance, pickling, rng, scripts, threads, unused

__all__ = ["RULES", "RULE_MODULES"]

#: Every rule module, AST rules first, then those whose findings the engine builds.
RULE_MODULES: tuple[ModuleType, ...] = (
    pickling,
    fork,
    threads,
    api,
    rng,
    performance,
    scripts,
    frameworks,
    unused,
    files,
)

#: The rules run over each parsed module, in this order.
RULES: tuple[Rule, ...] = (
    *pickling.RULES,
    *fork.RULES,
    *threads.RULES,
    *api.RULES,
    *rng.RULES,
    *performance.RULES,
    *scripts.RULES,
    *frameworks.RULES,
)
