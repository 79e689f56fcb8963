"""A Sequence over a pandas DataFrame (`df.iloc[rows]` per batch, features scaled with
statistics computed once in `__init__`), trained with 4 worker threads. Correct."""

# Modelled on: the DataFrameSequence(tf.keras.utils.Sequence) pattern (`batch_df =
# self.df.iloc[indexes]`), e.g. stefhk3/federated-learning-and-IoT:client/models/IotDataset.py
# (features and label from `dataframe.iloc[index]`).

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import Expect
from ._data import write_csv


class DataFrameSequence:
    def __init__(self, df, feature_cols, label_col, batch_size=32):
        self.df = df
        self.feature_cols = feature_cols
        self.label_col = label_col
        self.batch_size = batch_size
        self.mean = df[feature_cols].mean()
        self.std = df[feature_cols].std() + 1e-6

    def __len__(self):
        return math.ceil(len(self.df) / self.batch_size)

    def __getitem__(self, index):
        batch_df = self.df.iloc[index * self.batch_size : (index + 1) * self.batch_size]
        x = ((batch_df[self.feature_cols] - self.mean) / self.std).to_numpy(np.float32)
        y = batch_df[self.label_col].to_numpy(np.int64)
        return x, y


def train(model, csv_path):
    df = pd.read_csv(csv_path)
    seq = DataFrameSequence(df, ["f1", "f2", "f3"], "label", batch_size=128)
    model.fit(seq, epochs=5, workers=4, use_multiprocessing=False)


def make(ws):
    df = pd.read_csv(write_csv(ws.path / "table.csv", 45))
    return DataFrameSequence(df, ["f1", "f2", "f3"], "label", batch_size=8)


EXPECT = Expect(
    source="stefhk3/federated-learning-and-IoT:client/models/IotDataset.py",
    loader=make,
    needs=("pandas",),
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG353", "TSG352", "TSG451"},
    check_must_not={"TSG301", "TSG401", "TSG601", "TSG303"},
    why="Clean: reads only, each batch is a slice by index; the last one is short.",
)
