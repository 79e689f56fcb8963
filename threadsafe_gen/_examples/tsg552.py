"""Triggers TSG552 (global-rng-in-grain-map): a Grain Map transform draws from a global RNG."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import grain
import numpy as np


class Jitter(grain.transforms.Map):
    def map(self, x):
        return x + np.random.normal(size=x.shape)  # not reproducible
