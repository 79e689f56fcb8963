"""A Keras 3 `PyDataset` that simulates fresh samples on every call: it reads no mutable state
and ignores its index on purpose, drawing from a new OS-seeded generator per call. Correct
with 4 worker threads or processes (issue 10 item 2)."""

# Modelled on: the simulator-backed DataGenerator pattern (`simulator` object producing samples
# per batch, indices only counting batches), e.g. symphony-of-nirfolio/Signal-anomaly-detection:
# Backend/CustomGenerator.py's signal windows, here simulated instead of read.

from __future__ import annotations

import keras
import numpy as np

from . import Expect


class DampedOscillator:
    """Samples trajectories of x'' = -k x - c x' with random k and c."""

    def __init__(self, steps=16, dt=0.1):
        self.steps = steps
        self.dt = dt

    def sample(self, rng, n):
        k = rng.uniform(0.5, 2.0, size=n)
        c = rng.uniform(0.0, 0.5, size=n)
        x, v = np.ones(n), np.zeros(n)
        out = np.empty((n, self.steps), dtype=np.float32)
        for t in range(self.steps):
            v = v + (-k * x - c * v) * self.dt
            x = x + v * self.dt
            out[:, t] = x
        return out, np.stack([k, c], axis=1).astype(np.float32)


class SimulatedBatches(keras.utils.PyDataset):
    def __init__(self, simulator, batch_size, batches_per_epoch, **kwargs):
        super().__init__(**kwargs)
        self.simulator = simulator
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch

    def __len__(self):
        return self.batches_per_epoch

    def __getitem__(self, index):
        rng = np.random.default_rng()  # fresh entropy: every batch is a new experiment
        return self.simulator.sample(rng, self.batch_size)


def train(model):
    data = SimulatedBatches(DampedOscillator(), 64, 200, workers=4, use_multiprocessing=True)
    model.fit(data, epochs=50)


def make(ws):
    return SimulatedBatches(DampedOscillator(), 8, 8, workers=4, use_multiprocessing=True)


EXPECT = Expect(
    source="symphony-of-nirfolio/Signal-anomaly-detection:Backend/CustomGenerator.py",
    loader=make,
    check_kwargs={"start_method": "fork"},
    lint_must_not={"TSG353", "TSG352", "TSG551", "TSG651"},
    check_must_not={"TSG301", "TSG303", "TSG401", "TSG501", "TSG502", "TSG503"},
    why="Deliberately stateless: every call is a new simulation from fresh OS entropy, so "
    "ignoring the index is the design (item 2).",
)
