"""An image-captioning generator yielding ((photo features, partial caption), next word)
batches forever, passed to Keras 3 `fit(generator, steps_per_epoch=...)` with no workers.
Correct: one consumer, a fresh batch per yield, fixed shapes."""

# Modelled on: HTN-DT-Beo/ImageCaption:generate_text/caption_generate.py (data_generator:
# tokenizer.texts_to_sequences, pad_sequences, to_categorical, yield (X1, X2), y).

from __future__ import annotations

import numpy as np

from . import Expect
from ._data import write_texts


def pad(seq, maxlen):
    seq = seq[-maxlen:]
    return [0] * (maxlen - len(seq)) + seq


def data_generator(keys, captions, features, word_index, max_length, vocab_size, batch_size):
    x1, x2, y = [], [], []
    n = 0
    while True:
        for key in keys:
            n += 1
            seq = [word_index[w] for w in captions[key].split()]
            for i in range(1, len(seq)):
                x1.append(features[key])
                x2.append(pad(seq[:i], max_length))
                y.append(np.eye(vocab_size, dtype=np.float32)[seq[i]])
            if n == batch_size:
                yield (np.array(x1), np.array(x2)), np.array(y)
                x1, x2, y = [], [], []
                n = 0


def train(model, keys, captions, features, word_index, max_length, vocab_size):
    gen = data_generator(keys, captions, features, word_index, max_length, vocab_size, 32)
    model.fit(gen, epochs=20, steps_per_epoch=len(keys) // 32)


def make(ws):
    texts = write_texts(72)
    keys = [f"img{i}" for i in range(72)]
    words = sorted({w for t in texts for w in t.split()})
    word_index = {w: i + 1 for i, w in enumerate(words)}
    features = {k: np.full(6, i, dtype=np.float32) for i, k in enumerate(keys)}
    captions = dict(zip(keys, texts, strict=False))
    return data_generator(keys, captions, features, word_index, 8, len(words) + 1, 4)


EXPECT = Expect(
    source="HTN-DT-Beo/ImageCaption:generate_text/caption_generate.py",
    loader=make,
    check_kwargs={"workers": 1, "use_multiprocessing": False},
    lint_must_not={"TSG451"},
    check_must_not={"TSG302", "TSG304", "TSG306", "TSG603", "TSG623:error", "TSG401"},
    why="Clean: an endless generator with one consumer, fresh lists per batch. The number "
    "of rows per batch varies (one per caption word), which Keras accepts.",
)
