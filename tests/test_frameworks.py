"""threadsafe_gen/_frameworks.py (torch and Grain loaders recognised without importing them),
worker_info()/shard() inside their workers, and threadsafe_gen.grain.GeneratorIterDataset."""

from __future__ import annotations

import collections
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import threadsafe_gen as tsg
from threadsafe_gen._frameworks import (
    framework_kind,
    framework_worker_info,
    grain_settings,
    torch_settings,
)

_old_python = pytest.mark.skipif(sys.version_info < (3, 11), reason="grain needs Python >= 3.11")


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_import_imports_no_framework() -> None:
    """`import threadsafe_gen` and a check of a plain loader import neither torch nor grain."""
    out = _run("""
        import sys
        import threadsafe_gen
        from threadsafe_gen._frameworks import framework_kind
        class Rows:
            def __len__(self):
                return 2
            def __getitem__(self, i):
                return [[i]]
        assert framework_kind(Rows()) is None
        threadsafe_gen.check_loader(Rows(), probes=["sequential"])
        print(sorted(m for m in ("torch", "grain", "jax", "tensorflow") if m in sys.modules))
    """)
    assert out.strip() == "[]"


def test_plain_objects_are_no_framework_loaders() -> None:
    assert framework_kind([1, 2]) is None
    assert framework_kind(np.zeros(3)) is None
    assert framework_worker_info() is None
    assert tsg.worker_info() is None


# --- torch ----------------------------------------------------------------------------------------


@pytest.mark.torch
def test_torch_kinds_and_settings() -> None:
    pytest.importorskip("torch")
    loaders = pytest.importorskip("loaders.torch_loaders")
    from torch.utils.data import DataLoader

    assert framework_kind(loaders.Replicated()) == "torch.IterableDataset"
    assert framework_kind(loaders.Rows()) == "torch.Dataset"
    assert framework_kind(loaders.Rows) is None  # the class, not a loader
    dl = DataLoader(
        loaders.Replicated(),
        batch_size=4,
        num_workers=2,
        multiprocessing_context="spawn",
        worker_init_fn=loaders.reset_numpy,
    )
    assert framework_kind(dl) == "torch.DataLoader"
    s = torch_settings(dl)
    assert (s.num_workers, s.start_method, s.explicit_context, s.iterable) == (
        2,
        "spawn",
        True,
        True,
    )
    assert s.worker_init_fn is loaders.reset_numpy
    assert torch_settings(DataLoader(loaders.Rows())).num_workers == 0


@pytest.mark.torch
@pytest.mark.parametrize("method", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_shard_in_torch_workers(method: str) -> None:
    """shard() in an IterableDataset: every item exactly once over 2 workers."""
    pytest.importorskip("torch")
    loaders = pytest.importorskip("loaders.torch_loaders")
    from torch.utils.data import DataLoader

    dl = DataLoader(
        loaders.Sharded(), batch_size=None, num_workers=2, multiprocessing_context=method
    )
    counts = collections.Counter(int(x) for x in dl)
    assert sorted(counts) == list(range(loaders.N))
    assert set(counts.values()) == {1}


@pytest.mark.torch
def test_worker_info_in_torch_workers() -> None:
    """worker_info() gives torch's id, count and seed; a @threadsafe_generator called in a
    worker is auto-sharded."""
    pytest.importorskip("torch")
    from torch.utils.data import DataLoader, IterableDataset

    class WhoAmI(IterableDataset[Any]):
        def __iter__(self) -> Any:
            info = tsg.worker_info()
            assert info is not None
            yield (info.id, info.num_workers, info.kind)

    seen = sorted(tuple(x) for x in DataLoader(WhoAmI(), batch_size=None, num_workers=2))
    assert seen == [(0, 2, "process"), (1, 2, "process")]

    @tsg.threadsafe_generator
    def numbers() -> Any:
        yield from range(20)

    class Auto(IterableDataset[Any]):
        def __iter__(self) -> Any:
            return numbers()

    counts = collections.Counter(int(x) for x in DataLoader(Auto(), batch_size=None, num_workers=2))
    assert sorted(counts) == list(range(20))
    assert set(counts.values()) == {1}


# --- Grain ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grain_loaders() -> Iterator[Any]:
    """tests/loaders/grain_loaders.py, with Grain's process-wide threads started before any test's
    snapshot of running threads (module scope: set up before the per-test fixtures)."""
    pytest.importorskip("grain")
    loaders = pytest.importorskip("loaders.grain_loaders")
    loaders.prepare_process()
    yield loaders
    loaders.release_process()


@pytest.mark.grain
@_old_python
def test_grain_kinds_and_settings(grain_loaders: Any) -> None:
    import grain

    dl = grain_loaders.loader(operations=[grain_loaders.Jitter()], worker_count=3)
    assert framework_kind(dl) == "grain.DataLoader"
    s = grain_settings(dl)
    assert s.worker_count == 3
    assert [p for p, _ in s.parts] == ["data_source", "sampler", "operations[0]"]
    ds = grain.MapDataset.range(4).map(grain_loaders.Jitter())
    assert framework_kind(ds) == "grain.MapDataset"
    assert grain_settings(ds).worker_count == 0
    it = ds.to_iter_dataset().mp_prefetch(
        grain.MultiprocessingOptions(num_workers=2), worker_init_fn=grain_loaders.reset_numpy
    )
    assert framework_kind(it) == "grain.IterDataset"
    s = grain_settings(it)
    assert (s.worker_count, s.worker_init_fn) == (2, grain_loaders.reset_numpy)
    assert [p for p, _ in s.parts] == ["map(Jitter)"]


@pytest.mark.slow
@pytest.mark.grain
@_old_python
def test_worker_info_in_grain_workers(grain_loaders: Any) -> None:
    """worker_info() in a Grain Map transform gives the worker's index and count."""
    import grain

    ds = grain.MapDataset.range(8).map(grain_loaders.WhoAmI()).to_iter_dataset()
    it = iter(ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=2)))
    out = list(it)
    it.close()  # Grain's reader threads end with the iterator
    assert [(x, w, n) for x, w, n in out] == [(i, i % 2, 2) for i in range(8)]


@pytest.mark.slow
@pytest.mark.grain
@_old_python
@pytest.mark.parametrize("body", ["numbers", "my_share"])
def test_generator_iter_dataset_exactly_once(body: str, grain_loaders: Any) -> None:
    """GeneratorIterDataset: a plain generator is auto-sharded, a shard()-ing one trusted;
    either way every item once over 2 Grain workers."""
    import grain

    from threadsafe_gen.grain import GeneratorIterDataset

    ds = GeneratorIterDataset(getattr(grain_loaders, body), 20)
    it = iter(ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=2)))
    counts = collections.Counter(int(x) for x in it)
    it.close()
    assert sorted(counts) == list(range(20))
    assert set(counts.values()) == {1}


@pytest.mark.grain
@_old_python
def test_generator_iter_dataset_in_process_and_checkpoint(grain_loaders: Any) -> None:
    """Without workers it yields everything; get_state/set_state resume where it was."""
    from threadsafe_gen.grain import GeneratorIterDataset

    ds = GeneratorIterDataset(grain_loaders.numbers, 5)
    assert [int(x) for x in ds] == [0, 1, 2, 3, 4]
    it = iter(ds)
    next(it), next(it)
    again = iter(ds)
    again.set_state(it.get_state())
    assert [int(x) for x in again] == [2, 3, 4]
    with pytest.raises(TypeError, match="generator function"):
        GeneratorIterDataset(42)  # type: ignore[arg-type]
