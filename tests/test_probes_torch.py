"""check_loader() on PyTorch loaders (threadsafe_gen/_probes/torch_loader.py): each finding
on a real torch DataLoader run by torch's own workers, and its fix clean.

fork is used wherever the finding does not depend on the start method (a fraction of a
second per run); the spawn cases are marked slow.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from threadsafe_gen import LoaderReport, check_loader
from threadsafe_gen._probes import _loaders, torch_loader

torch = pytest.importorskip("torch")
loaders = pytest.importorskip("loaders.torch_loaders")

from torch.utils.data import DataLoader  # noqa: E402

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(
        "fork" not in multiprocessing.get_all_start_methods(), reason="fork workers (Linux)"
    ),
]

FAST = {"timeout": 30.0, "batch_timeout": 2.0}


def check(loader: Any, **kwargs: Any) -> LoaderReport:
    return check_loader(loader, **{**FAST, **kwargs})


def only(report: LoaderReport, code: str) -> list[Any]:
    return [f for f in report.findings if f.code == code]


def ran_clean(report: LoaderReport) -> bool:
    return all(p.status == "ran" for p in report.probes) and not report.findings


# --- duplicate data (TSG402) ------------------------------------------------------------------------


def test_replicated_iterable_dataset() -> None:
    """An IterableDataset that ignores the worker: every batch twice, factor measured."""
    report = check(DataLoader(loaders.Replicated(), batch_size=4, num_workers=2))
    (f,) = only(report, "TSG402")
    assert f.severity == "error"
    assert f.details["factor"] == 2.0
    assert set(f.details["per_worker"]) == {0, 1}
    assert report.settings["kind"] == "torch.DataLoader"
    assert report.settings["num_workers"] == 2


def test_sharded_iterable_dataset_is_clean() -> None:
    """The fix: threadsafe_gen.shard() in __iter__ splits the items by torch worker."""
    assert ran_clean(check(DataLoader(loaders.Sharded(), batch_size=4, num_workers=2)))


def test_bare_iterable_dataset_is_checked_with_two_workers() -> None:
    """A bare IterableDataset: checked as DataLoader(ds, num_workers=2)."""
    report = check(loaders.Replicated())
    assert only(report, "TSG402")
    assert report.settings["num_workers"] == 2
    assert report.settings["kind"] == "torch.IterableDataset"


def test_one_worker_cannot_duplicate() -> None:
    """num_workers=1: one copy, no duplicates."""
    report = check(DataLoader(loaders.Replicated(), batch_size=4, num_workers=1))
    assert not only(report, "TSG402")


# --- pickling (TSG101, TSG102) -----------------------------------------------------------------------


def test_unpicklable_dataset_member_under_spawn() -> None:
    """A raw lock on the dataset: TSG101 at dataset.lock, an error under spawn."""
    dl = DataLoader(loaders.Rows("lock"), num_workers=2, multiprocessing_context="spawn")
    report = check(dl, probes=["pickling"])
    (f,) = only(report, "TSG101")
    assert (f.path, f.severity) == ("dataset.lock", "error")
    assert "multiprocessing_context='spawn'" in f.message


def test_unpicklable_member_is_a_warning_with_fork() -> None:
    """With fork it trains, but fails on macOS, Windows and Python 3.14: a warning."""
    report = check(DataLoader(loaders.Rows("lock"), num_workers=2), probes=["pickling"])
    assert [f.severity for f in only(report, "TSG101")] == ["warning"]


def test_picklable_lock_is_clean() -> None:
    """The fix: threadsafe_gen.Lock pickles to a fresh lock in each worker."""
    dl = DataLoader(loaders.Rows("ourlock"), num_workers=2, multiprocessing_context="spawn")
    assert ran_clean(check(dl, probes=["pickling"]))


@pytest.mark.parametrize("arg", ["collate_fn", "worker_init_fn"])
def test_lambda_for_spawned_workers(arg: str) -> None:
    """A lambda collate_fn / worker_init_fn: TSG102 at its argument (torch pickles both)."""
    if arg == "collate_fn":
        dl = DataLoader(
            loaders.Rows(),
            num_workers=2,
            multiprocessing_context="spawn",
            collate_fn=lambda batch: batch,
        )
    else:
        dl = DataLoader(
            loaders.Rows(),
            num_workers=2,
            multiprocessing_context="spawn",
            worker_init_fn=lambda worker_id: None,
        )
    report = check(dl, probes=["pickling"])
    assert [f.path for f in only(report, "TSG102")] == [arg]


def test_module_level_collate_is_clean() -> None:
    """The fix: a module-level function is pickled by name."""
    dl = DataLoader(
        loaders.Rows(), num_workers=2, multiprocessing_context="spawn", collate_fn=loaders.keep
    )
    assert ran_clean(check(dl, probes=["pickling"]))


def test_sampler_is_not_pickled() -> None:
    """torch runs the sampler in this process: an unpicklable sampler is no finding."""

    class LockedSampler:
        def __init__(self) -> None:
            import threading

            self.lock = threading.Lock()

        def __iter__(self) -> Iterator[int]:
            return iter(range(8))

        def __len__(self) -> int:
            return 8

    dl = DataLoader(
        loaders.Rows(), sampler=LockedSampler(), num_workers=2, multiprocessing_context="spawn"
    )
    assert ran_clean(check(dl, probes=["pickling"]))


@pytest.mark.slow
def test_spawn_dry_run_finds_duplicates() -> None:
    """Under spawn the dry run starts real spawned workers (the tagging collate pickles)."""
    dl = DataLoader(
        loaders.Replicated(), batch_size=8, num_workers=2, multiprocessing_context="spawn"
    )
    report = check(dl, timeout=60.0, batch_timeout=5.0, probes=["torch_dry_run"])
    assert only(report, "TSG402"), str(report)


# --- fork safety (TSG201) ----------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "data.db"
    sqlite3.connect(path).close()
    return str(path)


def test_handles_opened_in_init(db: str) -> None:
    """A connection and an open file made in __init__: TSG201 each, errors under fork."""
    ds = loaders.Db(db)
    try:
        report = check(DataLoader(ds, num_workers=2), probes=["process_inspection"])
    finally:
        ds.close()
    found = {f.path: f.severity for f in only(report, "TSG201")}
    assert found == {"dataset.conn": "error", "dataset.file": "error"}


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Any]:
    """A dataset holding an HDF5 file and an LMDB environment opened in __init__."""
    h5py = pytest.importorskip("h5py")
    lmdb = pytest.importorskip("lmdb")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["x"] = np.arange(4)
    lmdb.open(str(tmp_path / "db")).close()
    ds = loaders.Stores(str(tmp_path / "x.h5"), str(tmp_path / "db"))
    yield ds
    ds.close()


def test_hdf5_opened_in_init(stores: Any) -> None:
    """An h5py.File on the dataset is recognised by its library: TSG201."""
    report = check(DataLoader(stores, num_workers=2), probes=["process_inspection"])
    assert "dataset.h5" in [f.path for f in only(report, "TSG201")]


def test_lmdb_opened_in_init(stores: Any) -> None:
    """An lmdb.Environment on the dataset: TSG201."""
    report = check(DataLoader(stores, num_workers=2), probes=["process_inspection"])
    assert "dataset.env" in [f.path for f in only(report, "TSG201")]


def test_connection_per_worker_is_clean(db: str) -> None:
    """The fix: threadsafe_gen.per_process opens one connection in each worker."""
    dl = DataLoader(loaders.DbPerWorker(db), batch_size=2, num_workers=2)
    report = check(dl, probes=["torch_dry_run", "process_inspection"])
    assert ran_clean(report), str(report)


# --- copy-on-read memory (TSG723) ----------------------------------------------------------------------


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """1M file names instead of the registry example's 2M: thresholds scaled down."""
    monkeypatch.setattr(torch_loader, "COW_MIN_BYTES", 8 * 2**20)


@pytest.mark.usefixtures("small_thresholds")
def test_copy_on_read_growth_measured() -> None:
    """A list of 1M str: forked workers copy its pages as they read; growth measured by pid."""
    dl = DataLoader(loaders.Paths(1_000_000), batch_size=4096, num_workers=2)
    report = check(dl, probes=["torch_dry_run"], max_batches=32)
    (f,) = only(report, "TSG723")
    assert f.path == "dataset.paths"
    assert f.severity == "warning"
    assert f.details["measured_growth_bytes"] > 2**20
    assert f.details["epoch_growth_per_worker_bytes"] >= 8 * 2**20


@pytest.mark.usefixtures("small_thresholds")
def test_numpy_array_is_clean() -> None:
    """The fix: one numpy array of fixed-width strings holds no Python object per item."""
    dl = DataLoader(loaders.Paths(1_000_000, as_array=True), batch_size=4096, num_workers=2)
    assert ran_clean(check(dl, probes=["torch_dry_run"], max_batches=32))


def test_big_containers_found_by_path() -> None:
    """The static walk names the container and estimates its objects' size."""

    class Holder:
        def __init__(self) -> None:
            self.meta = {"labels": list(range(300_000, 500_000))}

    (big,) = _loaders.big_containers(Holder(), "dataset")
    assert big.path == "dataset.meta['labels']"
    assert big.items == 200_000
    assert big.object_bytes >= 200_000 * 28


# --- randomness (TSG501, TSG502) ----------------------------------------------------------------------


def test_worker_init_fn_resetting_the_seed() -> None:
    """A worker_init_fn seeding a constant: the workers and the epochs repeat each other."""
    dl = DataLoader(
        loaders.Noisy(), batch_size=4, num_workers=2, worker_init_fn=loaders.reset_numpy
    )
    report = check(dl, probes=["torch_randomness"])
    assert {f.code: f.path for f in report.findings} == {
        "TSG501": "worker_init_fn",
        "TSG502": "worker_init_fn",
    }


def test_rng_stored_on_the_dataset() -> None:
    """An RNG object on the dataset is copied into every worker: TSG501 at dataset."""
    dl = DataLoader(loaders.CarriesRng(), batch_size=4, num_workers=2)
    report = check(dl, probes=["torch_randomness"])
    assert [f.path for f in only(report, "TSG501")] == ["dataset"]


def test_torch_reseeding_is_not_reported() -> None:
    """The fix (and the default): torch reseeds numpy in every worker and epoch."""
    dl = DataLoader(loaders.Noisy(), batch_size=4, num_workers=2)
    assert ran_clean(check(dl, probes=["torch_randomness"]))


# --- hang and crash (TSG801, TSG821, TSG822) -------------------------------------------------------------


def test_hanging_batch() -> None:
    """A worker stuck at index 9: TSG801 with the worker and the batch's indices; killed."""
    dl = DataLoader(loaders.Rows("hang"), batch_size=4, num_workers=2)
    report = check(dl, batch_timeout=1.5, probes=["torch_dry_run"])
    (f,) = only(report, "TSG801")
    assert f.details["worker"] == 0
    assert f.details["indices"] == [8, 9, 10, 11]


def test_dying_worker() -> None:
    """os._exit in a worker: TSG821 with the worker, its exit code and its pending indices."""
    dl = DataLoader(loaders.Rows("crash"), batch_size=4, num_workers=2)
    report = check(dl, probes=["torch_dry_run"])
    (f,) = only(report, "TSG821")
    assert f.details["exitcode"] == 3
    assert 9 in f.details["indices"]


def test_raising_worker() -> None:
    """An exception in a worker: TSG822 with the original message and the batch's indices."""
    dl = DataLoader(loaders.Rows("raise"), batch_size=4, num_workers=2)
    report = check(dl, probes=["torch_dry_run"])
    (f,) = only(report, "TSG822")
    assert "corrupt record 9" in f.message
    assert f.details["indices"] == [8, 9, 10, 11]
    assert "Traceback" in f.details["traceback"] or "line" in f.details["traceback"]


def test_healthy_loader_is_clean() -> None:
    """The fix of the three: every probe runs and nothing is reported."""
    assert ran_clean(check(DataLoader(loaders.Rows(), batch_size=4, num_workers=2)))


def test_in_process_loader() -> None:
    """num_workers=0: the batches are made in next() itself, on a helper thread."""
    report = check(DataLoader(loaders.Rows("raise"), batch_size=4), probes=["torch_dry_run"])
    assert only(report, "TSG822")
    assert report.settings["num_workers"] == 0


def test_workers_option_overrides_the_loader() -> None:
    """check_loader(workers=2) checks the loader as if it had num_workers=2."""
    dl = DataLoader(loaders.Replicated(), batch_size=4)
    report = check(dl, workers=2, probes=["torch_dry_run"])
    assert only(report, "TSG402")
    assert dl.num_workers == 0  # the user's loader is unchanged
