"""A tf.keras text `Sequence` that tokenises with a word index and pads per batch to a fixed
length, with a `Vocab` helper class (a lookup table with `__getitem__`/`__len__`, not a
loader) in the same file. Trained with `fit(workers=4)`. Correct."""

# Modelled on: NathanDuran/RNN-Sherlock-Language-Model:keras_batch_generator.py (sentences to
# id arrays) and the DataGenerator(texts, labels, max_seq_length) template seen in
# AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:datagenerator.py.

from __future__ import annotations

import numpy as np
from tensorflow import keras

from . import Expect
from ._data import write_texts


class Vocab:
    """Word -> id table; unknown words get id 1, padding is 0."""

    def __init__(self, texts):
        words = sorted({w for t in texts for w in t.lower().split()})
        self.index = {w: i + 2 for i, w in enumerate(words)}

    def __getitem__(self, word):
        return self.index.get(word, 1)

    def __len__(self):
        return len(self.index) + 2


class TextSequence(keras.utils.Sequence):
    def __init__(self, texts, labels, vocab, batch_size=32, max_seq_length=12, **kwargs):
        super().__init__(**kwargs)
        if len(texts) != len(labels):
            msg = "`texts` and `labels` must have the same length"
            raise ValueError(msg)
        self.texts = texts
        self.labels = labels
        self.vocab = vocab
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length

    def __len__(self):
        return int(np.ceil(len(self.texts) / self.batch_size))

    def __getitem__(self, i):
        texts = self.texts[i * self.batch_size : (i + 1) * self.batch_size]
        x = np.zeros((len(texts), self.max_seq_length), dtype=np.int32)
        for row, text in enumerate(texts):
            ids = [self.vocab[w] for w in text.lower().split()][: self.max_seq_length]
            x[row, -len(ids) :] = ids
        return x, np.asarray(self.labels[i * self.batch_size : (i + 1) * self.batch_size])


def train(model, texts, labels):
    vocab = Vocab(texts)
    model.fit(TextSequence(texts, labels, vocab, workers=4), epochs=5)


def make(ws):
    texts = write_texts(30)
    return TextSequence(texts, [i % 2 for i in range(30)], Vocab(texts), batch_size=8, workers=4)


EXPECT = Expect(
    source="NathanDuran/RNN-Sherlock-Language-Model:keras_batch_generator.py",
    loader=make,
    check_kwargs={},
    lint_must_not={"TSG651", "TSG353", "TSG352"},
    check_must_not={"TSG301", "TSG401", "TSG601", "TSG623"},
    why="Clean. Vocab ignores no index: it is a lookup table, not a loader, and the padded "
    "width is fixed.",
)
