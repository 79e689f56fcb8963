"""Keras 2 YOLOv3 `Sequence` with multi-scale training: every 10th batch a helper draws a new
network size and stores it on self, so batch shapes change by design. Trained with
`fit_generator(workers=4, max_queue_size=8)` (threads)."""

# Modelled on: experiencor/keras-yolo3:generator.py (BatchGenerator: `_get_net_size(idx)` sets
# self.net_h/self.net_w every 10 batches from np.random.randint; images resized to that size)
# and experiencor/keras-yolo3:train.py (fit_generator(..., workers=4, max_queue_size=8)).

from __future__ import annotations

import numpy as np
from keras.utils import Sequence

from . import Expect


class BatchGenerator(Sequence):
    def __init__(self, instances, batch_size=2, min_net_size=64, max_net_size=128, downsample=32):
        self.instances = instances
        self.batch_size = batch_size
        self.min_net_size = (min_net_size // downsample) * downsample
        self.max_net_size = (max_net_size // downsample) * downsample
        self.downsample = downsample
        self.net_h = 96
        self.net_w = 96

    def __len__(self):
        return int(np.ceil(float(len(self.instances)) / self.batch_size))

    def __getitem__(self, idx):
        # get image input size, change every 10 batches
        net_h, net_w = self._get_net_size(idx)
        l_bound = idx * self.batch_size
        r_bound = min((idx + 1) * self.batch_size, len(self.instances))
        x_batch = np.zeros((r_bound - l_bound, net_h, net_w, 3), dtype=np.float32)
        y_batch = np.zeros((r_bound - l_bound, 4), dtype=np.float32)
        for k, instance in enumerate(self.instances[l_bound:r_bound]):
            x_batch[k] = instance["value"]
            y_batch[k] = instance["box"]
        return x_batch, y_batch

    def _get_net_size(self, idx):
        if idx % 10 == 0:
            net_size = self.downsample * np.random.randint(
                self.min_net_size / self.downsample, self.max_net_size / self.downsample + 1
            )
            self.net_h, self.net_w = net_size, net_size
        return self.net_h, self.net_w


def train(train_model, train_ints, nb_epochs):
    train_generator = BatchGenerator(train_ints, batch_size=16, min_net_size=288, max_net_size=448)
    train_model.fit_generator(
        generator=train_generator,
        steps_per_epoch=len(train_generator),
        epochs=nb_epochs,
        workers=4,
        max_queue_size=8,
    )


def make(ws):
    instances = [{"value": float(i), "box": [i, i + 1, i + 2, i + 3]} for i in range(48)]
    return BatchGenerator(instances, batch_size=2)


EXPECT = Expect(
    source="experiencor/keras-yolo3:generator.py",
    loader=make,
    check_kwargs={"workers": 4, "use_multiprocessing": False},
    lint_must={"TSG352"},
    lint_must_not={"TSG353"},
    check_must_not={"TSG623:error", "TSG401", "TSG601"},
    why="The network size lives on self and is rewritten from worker threads (TSG352). The "
    "changing image size is multi-scale training on purpose: in Keras 2 fit_generator it "
    "breaks nothing, so TSG623 as an error is a false alarm (item 6).",
)
