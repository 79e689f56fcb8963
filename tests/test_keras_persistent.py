"""Worker processes kept for the whole fit, and their epoch gate (threadsafe_gen/keras/_persistent.py).

The gate is a small file the consumer rewrites at every epoch. It must live in a private folder
and be written only through fresh, exclusively created files, so that a symlink planted in the
shared temporary folder cannot redirect a write to another file; and nothing may be left
behind once the dataset is closed or collected.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import loaders.keras as kl
import pytest

from threadsafe_gen.keras import _common, _persistent

pytestmark = pytest.mark.keras


@pytest.fixture
def shared_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile's default folder for this test alone, so that what is left there can be listed."""
    folder = tmp_path / "shared-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _ours(folder: Path) -> list[str]:
    """What threadsafe_gen left in *folder* (multiprocessing may keep its own pymp-* there)."""
    return sorted(name for name in os.listdir(folder) if not name.startswith("pymp-"))


def _one_epoch(shards: _persistent.PersistentShards) -> list[Any]:
    items = []
    while (item := shards.next()) is not _common.MISSING:
        items.append(item)
    return items


def test_gate_write_ignores_a_planted_symlink(shared_tmp: Path, tmp_path: Path) -> None:
    """A symlink planted where the next epoch's gate used to be written leaves its target untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    shards = _persistent.PersistentShards(
        kl.numbered(6), workers=2, start_method="fork", seed=1, timeout=60, epoch=0
    )
    try:
        gate = shards._gate
        assert gate is not None
        # The name the gate's next value was written to before (`<gate>.tmp`, predictable).
        os.symlink(victim, f"{gate}.tmp")
        epochs = [sorted(_one_epoch(shards))]
        shards.advance()  # rewrites the gate for epoch 1
        epochs.append(sorted(_one_epoch(shards)))
        folder = Path(gate).parent
        mode = stat.S_IMODE(folder.stat().st_mode)
    finally:
        shards.close()
    assert victim.read_bytes() == b"precious"
    assert epochs == [list(range(6))] * 2
    # The gate has a private folder of its own in the temp folder, for this user alone.
    assert (folder.parent, mode) == (shared_tmp, 0o700)
    assert _ours(shared_tmp) == []
    assert multiprocessing.active_children() == []


def test_gate_folder_is_removed_by_close_and_by_collection(shared_tmp: Path) -> None:
    """The gate's folder exists while the workers live, and is gone after close() or collection."""
    shards = _persistent.PersistentShards(
        kl.numbered(4), workers=1, start_method="fork", seed=1, timeout=60, epoch=0
    )
    assert len(_ours(shared_tmp)) == 1
    assert sorted(_one_epoch(shards)) == [0, 1, 2, 3]
    shards.close()
    assert _ours(shared_tmp) == []
    shards = _persistent.PersistentShards(
        kl.numbered(4), workers=1, start_method="fork", seed=1, timeout=60, epoch=0
    )
    del shards
    gc.collect()
    assert _ours(shared_tmp) == []
    assert multiprocessing.active_children() == []


def test_a_forked_child_does_not_remove_its_parents_gate(shared_tmp: Path) -> None:
    """A forked child running the gate's finalizer (as its atexit would) leaves the parent's gate."""
    shards = _persistent.PersistentShards(
        kl.numbered(4), workers=1, start_method="fork", seed=1, timeout=60, epoch=0
    )
    try:
        gate = shards._gate
        assert gate is not None
        child = multiprocessing.get_context("fork").Process(target=shards._gate_finalizer)
        child.start()
        child.join(30)
        assert child.exitcode == 0
        assert os.path.exists(gate)
        assert sorted(_one_epoch(shards)) == [0, 1, 2, 3]
    finally:
        shards.close()
    assert _ours(shared_tmp) == []


@pytest.mark.slow
def test_generator_dataset_in_processes_leaves_nothing_behind(shared_tmp: Path) -> None:
    """GeneratorDataset(use_multiprocessing=True): no temp file or folder left after close or collection."""
    from threadsafe_gen.keras import GeneratorDataset

    for closed in (True, False):
        ds = GeneratorDataset(
            kl.id_batches(), workers=2, use_multiprocessing=True, start_method="fork", batches=8
        )
        for _ in range(2):
            ds.on_epoch_begin()
            for i in range(len(ds)):
                ds[i]
            ds.on_epoch_end()
        assert len(_ours(shared_tmp)) == 1  # the gate's private folder, while the workers live
        if closed:
            ds.close()
        del ds
        gc.collect()
        assert _ours(shared_tmp) == []
    assert multiprocessing.active_children() == []
