"""A tf_keras `Sequence` whose `on_epoch_end` is only `pass`, trained with
`fit(workers=4, use_multiprocessing=False)`. Correct data; an `on_epoch_end` of `pass` changes
nothing mid-epoch (issue 10 item 9), but tf_keras's OrderedEnqueuer still idles 5 s after every
epoch (docs/failure-modes.md row 4.5; measured again for this shape: 3 epochs took 15.8 s with
workers=4 against 0.3 s with workers=1), so TSG703 at its documented info severity is right."""

# Modelled on: fabianaferreira/final-project-src:Classifier/DataGenerator.py (a Sequence over
# image files in batches) with the empty on_epoch_end that many copies of the template keep.

from __future__ import annotations

import numpy as np
import tf_keras
from PIL import Image

from . import Expect
from ._data import write_images


def load_image(image_path):
    with Image.open(image_path) as img:
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


class DataGenerator(tf_keras.utils.Sequence):
    def __init__(self, image_filenames, labels, batch_size):
        self.image_filenames = image_filenames
        self.labels = labels
        self.batch_size = batch_size

    def __len__(self):
        return int(np.ceil(len(self.image_filenames) / float(self.batch_size)))

    def __getitem__(self, idx):
        batch_x = self.image_filenames[idx * self.batch_size : (idx + 1) * self.batch_size]
        batch_y = self.labels[idx * self.batch_size : (idx + 1) * self.batch_size]
        return np.array([load_image(name) for name in batch_x]), np.array(batch_y)

    def on_epoch_end(self):
        pass


def train(model, files, labels):
    model.fit(DataGenerator(files, labels, 32), epochs=10, workers=4, use_multiprocessing=False)


def make(ws):
    files = write_images(ws.path / "img", 20)
    return DataGenerator(files, list(range(20)), 6)


EXPECT = Expect(
    source="fabianaferreira/final-project-src:Classifier/DataGenerator.py",
    loader=make,
    needs=("tf_keras", "PIL"),
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must_not={"TSG651", "TSG353", "TSG352"},
    check_must_not={"TSG703:warning", "TSG703:error", "TSG301", "TSG401", "TSG601"},
    why="Clean data; tf_keras honours fit(workers=4) (item 1) and an on_epoch_end of `pass` "
    "changes nothing at the epoch boundary (item 9). The enqueuer's 5 s stall per epoch is "
    "real for any tf_keras Sequence with workers (TSG703, info).",
)
