"""Triggers TSG504 (grain-map-not-reproducible): a Grain transform draws from a global RNG."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import grain
import numpy as np


class Jitter(grain.transforms.Map):
    def map(self, x):
        return x + np.random.normal()  # other numbers in every run


loader = grain.MapDataset.range(64).map(Jitter())
