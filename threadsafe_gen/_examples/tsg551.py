"""Triggers TSG551 (global-rng-in-getitem): global or shared RNG used inside __getitem__ or a generator."""

# --- shown by `threadsafe-gen explain` and docs/checks.md from here ---
import keras
import numpy as np


class Augment(keras.utils.PyDataset):
    def __getitem__(self, idx):
        noise = np.random.normal(size=(8, 4))  # same stream in every forked worker
        return self.x[idx] + noise
