"""check_loader() on Grain loaders (threadsafe_gen/_probes/grain_loader.py): each finding on
a real Grain DataLoader or pipeline run by Grain's own (spawned) workers, and its fix clean.

Grain always spawns its workers, which costs one to a few seconds per dry run: the tests that
start workers are marked slow, those that only pickle or look run in milliseconds.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from threadsafe_gen import LoaderReport, check_loader

pytestmark = [
    pytest.mark.grain,
    pytest.mark.skipif(sys.version_info < (3, 11), reason="grain needs Python >= 3.11"),
]

grain = pytest.importorskip("grain")
loaders = pytest.importorskip("loaders.grain_loaders")

FAST = {"timeout": 60.0, "batch_timeout": 3.0}
MP2 = {"num_workers": 2}


@pytest.fixture(autouse=True, scope="module")
def _grain_process_state() -> Iterator[None]:
    """Grain's process-wide state, set up before the per-test thread snapshot and stopped
    when this module is done."""
    loaders.prepare_process()
    yield
    loaders.release_process()


def check(loader: Any, **kwargs: Any) -> LoaderReport:
    return check_loader(loader, **{**FAST, **kwargs})


def only(report: LoaderReport, code: str) -> list[Any]:
    return [f for f in report.findings if f.code == code]


def ran_clean(report: LoaderReport) -> bool:
    return all(p.status == "ran" for p in report.probes) and not report.findings


def mp2(ds: Any, **kwargs: Any) -> Any:
    return ds.mp_prefetch(grain.MultiprocessingOptions(**MP2), **kwargs)


# --- pickling (TSG101): cloudpickle, as Grain ships the pipeline -----------------------------------------


def test_unpicklable_data_source() -> None:
    """A raw lock on the data source: TSG101 at data_source.lock, an error (Grain spawns)."""
    report = check(loaders.loader("lock"), probes=["pickling"])
    (f,) = only(report, "TSG101")
    assert (f.path, f.severity) == ("data_source.lock", "error")
    assert report.settings["kind"] == "grain.DataLoader"
    assert report.settings["worker_count"] == 2


def test_unpicklable_operation() -> None:
    """A transform holding a lock: TSG101 at operations[0].lock."""
    report = check(loaders.loader(operations=[loaders.Locked()]), probes=["pickling"])
    assert [f.path for f in only(report, "TSG101")] == ["operations[0].lock"]


def test_unpicklable_map_in_a_pipeline() -> None:
    """In a dataset pipeline the transform is named by its node: dataset.map(Locked).lock."""
    ds = mp2(grain.MapDataset.range(8).map(loaders.Locked()).to_iter_dataset())
    report = check(ds, probes=["pickling"])
    assert [f.path for f in only(report, "TSG101")] == ["dataset.map(Locked).lock"]


def test_without_workers_it_is_a_warning() -> None:
    """worker_count=0 pickles nothing: a warning for when workers are added."""
    report = check(loaders.loader("lock", worker_count=0), probes=["pickling"])
    assert [f.severity for f in only(report, "TSG101")] == ["warning"]


def test_picklable_lock_and_lambdas_are_clean() -> None:
    """The fix: threadsafe_gen.Lock; and a lambda in a map, which cloudpickle accepts."""
    ds = mp2(
        grain.MapDataset.source(loaders.Source("ourlock")).map(lambda x: x + 1).to_iter_dataset()
    )
    assert ran_clean(check(ds, probes=["pickling"]))


# --- randomness (TSG504, TSG501) -------------------------------------------------------------------------


def test_global_rng_in_a_map_of_a_dataloader() -> None:
    """np.random in a Map: TSG504 (info), found in this process by the state it changes."""
    report = check(loaders.loader(operations=[loaders.Jitter()]), probes=["grain_randomness"])
    (f,) = only(report, "TSG504")
    assert (f.path, f.severity) == ("operations[0]", "info")


def test_global_rng_in_a_map_of_a_pipeline() -> None:
    """The same in a MapDataset pipeline: the node is named."""
    ds = grain.MapDataset.range(8).map(loaders.Jitter())
    report = check(ds, probes=["grain_randomness"])
    assert [f.path for f in only(report, "TSG504")] == ["dataset.map(Jitter)"]


def test_random_map_is_clean() -> None:
    """The fix: a RandomMap draws from the rng Grain seeds per element."""
    dl = loaders.loader(operations=[loaders.RandomJitter()])
    assert ran_clean(check(dl, probes=["grain_randomness"]))
    ds = grain.MapDataset.range(8).seed(3).random_map(loaders.RandomJitter())
    assert ran_clean(check(ds, probes=["grain_randomness"]))


@pytest.mark.slow
def test_worker_init_fn_resetting_the_seed() -> None:
    """mp_prefetch(worker_init_fn=seed 0): the same element repeats in every real worker."""
    ds = mp2(
        grain.MapDataset.range(8).map(loaders.Jitter()).to_iter_dataset(),
        worker_init_fn=loaders.reset_numpy,
    )
    report = check(ds, probes=["grain_randomness"])
    assert [f.path for f in only(report, "TSG501")] == ["worker_init_fn"], str(report)
    assert only(report, "TSG504")


# --- the dry run: duplicates, hang, crash, errors (TSG402, TSG801, TSG821, TSG822) ------------------


@pytest.mark.slow
def test_iter_dataset_ignoring_its_slice() -> None:
    """set_slice ignored: every worker yields everything; the factor is measured."""
    report = check(mp2(loaders.IgnoresSlice()), probes=["grain_dry_run"])
    (f,) = only(report, "TSG402")
    assert f.details["factor"] == 2.0
    assert set(f.details["per_worker"]) == {0, 1}


@pytest.mark.slow
def test_generator_iter_dataset_is_clean() -> None:
    """The fix: threadsafe_gen.grain.GeneratorIterDataset takes its slice in each worker."""
    from threadsafe_gen.grain import GeneratorIterDataset

    report = check(mp2(GeneratorIterDataset(loaders.numbers, 32)))
    assert ran_clean(report), str(report)


@pytest.mark.slow
def test_unsliceable_source() -> None:
    """No set_slice: Grain's 'Cannot slice' error, reported with how to fix it."""
    report = check(mp2(loaders.Unsliceable()), probes=["grain_dry_run"])
    (f,) = only(report, "TSG822")
    assert "Cannot slice" in f.message
    assert "set_slice" in f.hint


@pytest.mark.slow
def test_hanging_worker_is_killed() -> None:
    """A worker stuck at record 9: TSG801 with the worker and the record; nothing left over."""
    report = check(loaders.loader("hang"), probes=["grain_dry_run"])
    (f,) = only(report, "TSG801")
    assert f.path == "data_source[9]"
    assert f.details["worker"] == 1


@pytest.mark.slow
def test_dying_worker() -> None:
    """os._exit in a worker: TSG821 with the worker and the exit code."""
    report = check(loaders.loader("crash"), probes=["grain_dry_run"])
    (f,) = only(report, "TSG821")
    assert f.details["exitcode"] == 3
    assert f.details["worker"] == 1


@pytest.mark.slow
def test_raising_worker() -> None:
    """An exception in a worker: TSG822 at the record, with the message."""
    report = check(loaders.loader("raise"), probes=["grain_dry_run"])
    (f,) = only(report, "TSG822")
    assert f.path == "data_source[9]"
    assert "corrupt record 9" in f.message


@pytest.mark.slow
def test_healthy_loader_is_clean() -> None:
    """The fix of the three: a full check of a healthy DataLoader reports nothing."""
    assert ran_clean(check(loaders.loader()))


def test_in_process_pipeline() -> None:
    """worker_count=0: the pipeline runs on a helper thread here; errors still found."""
    report = check(loaders.loader("raise", worker_count=0), probes=["grain_dry_run"])
    assert [f.path for f in only(report, "TSG822")] == ["data_source[9]"]
    assert report.settings["worker_count"] == 0
