"""A Keras 2 text `Sequence` that drops and swaps words with the stdlib `random` module in
`__getitem__`, with `fit_generator(workers=4, use_multiprocessing=True)`. Correct: Python
reseeds the `random` module in every forked child (`os.register_at_fork`, since 3.7), so the
workers draw different edits, and every new pool reseeds again. (Issue 10 item 16 lists the
stdlib `random` module among hidden global RNGs; for forked workers it is not one.)"""

# Modelled on: AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:datagenerator.py (a keras
# DataGenerator over text samples) with EDA-style word dropout from the `random` module.

from __future__ import annotations

import random

import keras
import numpy as np

from . import Expect
from ._data import write_texts


def encode(words, vocab, length):
    ids = [vocab.get(w, 1) for w in words][:length]
    return ids + [0] * (length - len(ids))


class TextAugmentGenerator(keras.utils.Sequence):
    def __init__(self, texts, labels, vocab, batch_size=8, max_len=10):
        self.texts = texts
        self.labels = labels
        self.vocab = vocab
        self.batch_size = batch_size
        self.max_len = max_len

    def __len__(self):
        return len(self.texts) // self.batch_size

    def __getitem__(self, index):
        batch = []
        for text in self.texts[index * self.batch_size : (index + 1) * self.batch_size]:
            words = text.split()
            words = [w for w in words if random.random() > 0.2] or words[:1]
            if len(words) > 2:
                i, j = random.sample(range(len(words)), 2)
                words[i], words[j] = words[j], words[i]
            batch.append(encode(words, self.vocab, self.max_len))
        y = self.labels[index * self.batch_size : (index + 1) * self.batch_size]
        return np.asarray(batch), np.asarray(y)


def train(model, texts, labels, vocab):
    gen = TextAugmentGenerator(texts, labels, vocab, batch_size=64)
    model.fit_generator(gen, epochs=10, workers=4, use_multiprocessing=True)


def make(ws):
    texts = write_texts(32)
    vocab = {w: i + 2 for i, w in enumerate(sorted({w for t in texts for w in t.split()}))}
    return TextAugmentGenerator(texts, list(range(32)), vocab, batch_size=4)


EXPECT = Expect(
    source="AbdElrahmanMSalim/Deep-Arabic-Poems-Generator:datagenerator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": True, "start_method": "fork"},
    lint_must_not={"TSG651", "TSG353", "TSG551:warning", "TSG551:error"},
    check_must_not={"TSG301", "TSG401", "TSG501", "TSG502", "TSG601"},
    why="Clean: the stdlib random module is reseeded in each forked worker. A lint note at "
    "info severity is fair; a warning would be a false alarm.",
)
