"""A training script that starts process workers at import time (no __main__ guard)."""

import keras
import numpy as np


class Data(keras.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        return np.full((4, 1), idx), np.zeros((4, 1))


def train():
    model = keras.Sequential([keras.layers.Dense(1)])
    model.fit(Data(workers=2, use_multiprocessing=True), epochs=1)


train()
