"""A Keras 2 segmentation `Sequence` augmenting with an imgaug `Sequential` in `__getitem__`,
for `fit_generator(workers=4, use_multiprocessing=True)`: imgaug's global RNG is copied into
every forked worker (issue 10 item 16). Linted only: imgaug 0.4 does not import with numpy 2."""

# Modelled on: the AugmentedSequence pattern (keras.utils.Sequence taking `aug: iaa.Sequential`
# and calling it per image), e.g. victoresque/6-DoF:augment.py for the pipeline.

from __future__ import annotations

import numpy as np
from keras.utils import Sequence

from . import Expect

try:
    import imgaug.augmenters as iaa
except ImportError:  # imgaug 0.4 uses np.sctypes, removed in numpy 2
    iaa = None


class AugmentedSequence(Sequence):
    def __init__(self, images, masks, batch_size, aug):
        self.images = images
        self.masks = masks
        self.batch_size = batch_size
        self.aug = aug

    def __len__(self):
        return int(np.ceil(len(self.images) / self.batch_size))

    def __getitem__(self, idx):
        sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        images_aug = self.aug(images=self.images[sl])
        return np.asarray(images_aug), self.masks[sl]


def train(model, images, masks):
    seq = iaa.Sequential([iaa.Fliplr(0.5), iaa.GaussianBlur(sigma=(0, 1.0))])
    model.fit_generator(
        AugmentedSequence(images, masks, 8, seq), epochs=30, workers=4, use_multiprocessing=True
    )


EXPECT = Expect(
    source="victoresque/6-DoF:augment.py",
    lint_must={"TSG551"},
    lint_must_not={"TSG651", "TSG353"},
    why="imgaug draws from its global RNG, identical in every forked worker.",
)
