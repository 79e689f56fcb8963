"""A Sequence that opens an LMDB environment in `__init__` and reads it in `__getitem__`, for
`fit_generator(workers=4, use_multiprocessing=True)`: LMDB forbids using an environment
opened before fork in the child, and spawned workers cannot receive it."""

# Modelled on: zwenwang/CTPN_Pytorch:Dataset/dataset.py (lmdb.open(...) in __init__, a read
# transaction per item in __getitem__).

from __future__ import annotations

import lmdb
import numpy as np

from . import Expect
from ._data import write_lmdb


class LmdbDataset:
    def __init__(self, root, batch_size):
        self.env = lmdb.open(root, max_readers=8, readonly=True, lock=False, readahead=False)
        with self.env.begin(write=False) as txn:
            self.data_num = int(txn.get(b"num"))
        self.batch_size = batch_size

    def __len__(self):
        return self.data_num // self.batch_size

    def __getitem__(self, index):
        xs, ys = [], []
        with self.env.begin(write=False) as txn:
            for i in range(index * self.batch_size, (index + 1) * self.batch_size):
                xs.append(np.frombuffer(txn.get(f"x-{i:06d}".encode()), np.float32))
                ys.append(int(txn.get(f"y-{i:06d}".encode())))
        return np.stack(xs), np.asarray(ys)


def train(model, root):
    model.fit_generator(LmdbDataset(root, 16), epochs=8, workers=4, use_multiprocessing=True)


def make(ws):
    data = LmdbDataset(write_lmdb(ws.path / "db", 40), 8)
    ws.stack.callback(data.env.close)
    return data


EXPECT = Expect(
    source="zwenwang/CTPN_Pytorch:Dataset/dataset.py",
    loader=make,
    needs=("lmdb",),
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must={"TSG251"},
    check_must={"TSG201|TSG203"},
    check_must_not={"TSG301", "TSG401", "TSG601"},
    why="An LMDB environment opened in the parent and used in forked workers (TSG251, and "
    "TSG201 or TSG203 in the check).",
)
