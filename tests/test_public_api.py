"""The public surface: a snapshot of the public names, sorted __all__, and a light import."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

import threadsafe_gen

# The public names of each public module, as users import them. Removing or renaming one
# breaks users' code: keep the old name (a deprecated alias if renamed) or, for a deliberate
# breaking change, update this snapshot and say so in CHANGELOG.md. Adding one: add it here
# and document it in docs/api/.
PUBLIC_API: dict[str, list[str]] = {
    "threadsafe_gen": [
        "BoundedSemaphore",
        "Category",
        "Condition",
        "Event",
        "Finding",
        "HostInfo",
        "LintReport",
        "LintResult",
        "LoaderReport",
        "Lock",
        "PerProcess",
        "PerThread",
        "REGISTRY",
        "RLock",
        "Semaphore",
        "Severity",
        "SharedArray",
        "WorkerInfo",
        "__version__",
        "assert_loader_safe",
        "check_loader",
        "errors",
        "host_info",
        "lint_paths",
        "lint_source",
        "per_process",
        "per_thread",
        "rng_for",
        "set_hosts",
        "set_seed",
        "shard",
        "threadsafe_generator",
        "threadsafe_iter",
        "worker_info",
    ],
    "threadsafe_gen.errors": [
        "ConfigError",
        "CopiedIteratorError",
        "LoaderCheckError",
        "PicklingRefusedError",
        "SharedArrayClosedError",
        "SharedStateError",
        "ShardingError",
        "ThreadsafeGenError",
        "ThreadsafeGenWarning",
        "WorkerError",
    ],
    "threadsafe_gen.keras": [
        "GeneratorDataset",
        "current_epoch",
        "guard",
        "legacy_fit_input",
        "to_tf_dataset",
    ],
    "threadsafe_gen.testing": [
        "Schedule",
        "assert_exactly_once",
        "assert_pure_getitem",
        "index_orders",
        "schedules",
        "worker_counts",
    ],
}

# Names a module builds on first access (importing Keras): checked by their own test.
_BUILT_ON_ACCESS = {("threadsafe_gen.keras", "GeneratorDataset")}


def _diff_message(module: str, removed: list[str], added: list[str]) -> str:
    lines = [f"The public names of {module} differ from the snapshot in tests/test_public_api.py."]
    if removed:
        lines.append(
            f"Removed or renamed: {', '.join(removed)}. Users import these names: keep them "
            "(as a deprecated alias if renamed) or, for a deliberate breaking change, update "
            "PUBLIC_API and record it in CHANGELOG.md."
        )
    if added:
        lines.append(
            f"New: {', '.join(added)}. Add them to PUBLIC_API and document them in docs/api/."
        )
    return " ".join(lines)


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_public_names_match_the_snapshot(module: str) -> None:
    """Each public module's __all__ is exactly the snapshot: nothing removed, renamed or added unseen."""
    current = set(importlib.import_module(module).__all__)
    expected = set(PUBLIC_API[module])
    removed, added = sorted(expected - current), sorted(current - expected)
    assert (removed, added) == ([], []), _diff_message(module, removed, added)


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_all_is_sorted(module: str) -> None:
    """__all__ is in sorted() order, so that a diff of it shows additions and removals plainly."""
    names = list(importlib.import_module(module).__all__)
    assert sorted(names) == names


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_all_names_exist(module: str) -> None:
    """Every name in __all__ exists (names built on first access are tested apart)."""
    mod = importlib.import_module(module)
    for name in mod.__all__:
        if (module, name) not in _BUILT_ON_ACCESS:
            assert hasattr(mod, name), f"{module}.{name} is in __all__ but does not exist"


@pytest.mark.keras
def test_names_built_on_access_exist() -> None:
    """threadsafe_gen.keras.GeneratorDataset is built on first access (it imports Keras)."""
    pytest.importorskip("keras")
    for module, name in sorted(_BUILT_ON_ACCESS):
        assert isinstance(getattr(importlib.import_module(module), name), type), name


def _fresh(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip()


def test_import_does_not_load_tensorflow_or_keras() -> None:
    """`import threadsafe_gen` leaves TensorFlow and Keras unimported (checked in a fresh process)."""
    code = (
        "import sys, threadsafe_gen\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'tensorflow', 'keras', 'tf_keras', 'hypothesis', 'jax', 'torch'})\n"
        "print(','.join(heavy))\n"
    )
    assert _fresh(code) == ""


def test_dir_lists_the_lazy_submodules_without_importing_them() -> None:
    """dir(threadsafe_gen) lists `keras` and `testing` before they are loaded, and loads neither."""
    code = (
        "import sys, threadsafe_gen\n"
        "names = dir(threadsafe_gen)\n"
        "loaded = [m for m in ('threadsafe_gen.keras', 'threadsafe_gen.testing') if m in sys.modules]\n"
        "print('keras' in names, 'testing' in names, names == sorted(names), loaded)\n"
    )
    assert _fresh(code) == "True True True []"


def test_dir_of_the_keras_module_lists_generator_dataset_without_importing_keras() -> None:
    """dir(threadsafe_gen.keras) names GeneratorDataset, which is built only on first access."""
    code = (
        "import sys, threadsafe_gen.keras as k\n"
        "print(all(n in dir(k) for n in k.__all__), 'keras' in sys.modules)\n"
    )
    assert _fresh(code) == "True False"


def test_lazy_submodules_are_reachable_as_attributes() -> None:
    """`tsg.keras` and `tsg.testing` work after a plain `import threadsafe_gen as tsg`."""
    for name in ("keras", "testing"):
        assert isinstance(getattr(threadsafe_gen, name), types.ModuleType)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        threadsafe_gen.nothing_here  # noqa: B018


def test_lint_result_is_the_deprecated_name_of_lint_report() -> None:
    """LintResult (the name before LintReport) still imports, as the same class."""
    assert threadsafe_gen.LintResult is threadsafe_gen.LintReport
