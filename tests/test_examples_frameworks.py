"""The PyTorch and Grain examples run as scripts: Keras 3 trains 2 epochs on a torch DataLoader
and on a Grain pipeline with 2 worker processes each, and the model sees every sample id
exactly once per epoch; check_loader reports the unsharded torch dataset and passes the rest.

Each example imports TensorFlow and starts worker processes, so it runs in its own interpreter
with a timeout (its worker processes are killed with it if it hangs).
"""

from __future__ import annotations

import sys

import pytest
from helpers.examples import EXACTLY_ONCE, run_example

pytestmark = [pytest.mark.slow, pytest.mark.keras]


@pytest.mark.torch
def test_keras_on_torch_dataloader() -> None:
    """shard() in an IterableDataset, DataLoader(num_workers=2): each id once per epoch;
    without it the model sees every id twice, and check_loader says so (TSG402)."""
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    out = run_example("torch_dataloader.py")
    assert "check_loader(DataLoader(AllRows(), num_workers=2)): ['TSG402']" in out
    assert "check_loader(DataLoader(Rows(), num_workers=2)): clean" in out
    assert "without shard(): the model saw 128 samples in epoch 0 for 64 ids" in out
    for line in EXACTLY_ONCE:
        assert line in out, out


@pytest.mark.grain
@pytest.mark.skipif(sys.version_info < (3, 11), reason="grain needs Python >= 3.11")
@pytest.mark.parametrize("args", [(), ("--generator",)], ids=["map-dataset", "generator"])
def test_keras_on_grain_pipeline(args: tuple[str, ...]) -> None:
    """A RandomMap augmentation, mp_prefetch(num_workers=2): each id once per epoch."""
    pytest.importorskip("grain")
    pytest.importorskip("keras")
    out = run_example("grain_loader.py", *args)
    assert "check_loader(pipeline): clean" in out
    for line in EXACTLY_ONCE:
        assert line in out, out
