"""A Keras 2 `Sequence` that puts sequences of similar length into buckets and serves each
batch padded to its bucket's length: batch shapes vary by design, and zero-padded rows repeat
across batches. Trained with `fit_generator(workers=4)`. Correct (issue 10 items 6 and 7)."""

# Modelled on: tbennun/keras-bucketed-sequence:bucketed_sequence.py (BucketedSequence:
# np.histogram buckets, per-bucket arrays, shuffled bins in on_epoch_end).

from __future__ import annotations

import math

import numpy as np
from keras import utils

from . import Expect


def _roundto(val, batch_size):
    return math.ceil(val / batch_size) * batch_size


class BucketedSequence(utils.Sequence):
    def __init__(self, num_buckets, batch_size, seq_lengths, x_seq, y):
        self.batch_size = batch_size
        edges = np.linspace(seq_lengths.min(), seq_lengths.max() + 1, num_buckets + 1)
        which = np.digitize(seq_lengths, edges[1:-1])
        self.bins = []
        for b in range(num_buckets):
            members = np.flatnonzero(which == b)
            if len(members):
                width = int(seq_lengths[members].max())
                self.bins.append((x_seq[members, -width:], y[members]))
        self.dataset_len = sum(math.ceil(len(xb) / batch_size) for xb, _ in self.bins)

    def __len__(self):
        return self.dataset_len

    def __getitem__(self, idx):
        begin, end = self.batch_size * idx, self.batch_size * (idx + 1)
        for xbin, ybin in self.bins:
            rounded = _roundto(xbin.shape[0], self.batch_size)
            if begin >= rounded:
                begin -= rounded
                end -= rounded
                continue
            end = min(xbin.shape[0], end)
            return xbin[begin:end], ybin[begin:end]
        msg = "out of bounds"
        raise ValueError(msg)


def train(model, lengths, x, y):
    seq = BucketedSequence(5, 64, lengths, x, y)
    model.fit_generator(seq, epochs=10, workers=4, use_multiprocessing=False)


def make(ws):
    n, width = 40, 12
    lengths = 2 + (np.arange(n) * 7) % (width - 1)
    x = np.zeros((n, width), dtype=np.float32)
    for i, length in enumerate(lengths):
        x[i, -length:] = i + 1  # pre-padded with zeros, as pad_sequences does
    return BucketedSequence(3, 4, lengths, x, np.arange(n, dtype=np.float32))


EXPECT = Expect(
    source="tbennun/keras-bucketed-sequence:bucketed_sequence.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG651", "TSG353", "TSG352", "TSG551"},
    check_must_not={"TSG623:error", "TSG401", "TSG301", "TSG601", "TSG602"},
    why="Length bucketing varies the padded width per batch on purpose; Keras 2 "
    "fit_generator accepts it (item 6). Zero padding repeats equal values, not samples "
    "(item 7).",
)
