"""Image augmentation with Pillow in process workers: images in a SharedArray, randomness from rng_for.

Two problems, one loader (the 16-core augmentation loader that had to build its own Pool):

* The images are large. On the loader as a numpy array they are pickled into every spawn or
  forkserver worker, every epoch (Keras 3 builds a new pool per epoch; catalog row 2.0b).
  A :class:`threadsafe_gen.SharedArray` pickles as a handle: workers map the same memory,
  read-only.
* ``np.random`` in forked workers repeats: every worker starts from the parent's RNG state,
  and every epoch's pool is forked from the same state again, so augmentations repeat
  within and across epochs (catalog rows 2d, 7.4). ``threadsafe_gen.rng_for(sample, epoch,
  seed)`` depends only on what it is given, so each sample gets its own augmentation per
  epoch, identical whichever worker, thread or start method computes it.

Run it::

    python examples/image_augmentation.py                        # 2 process workers
    python examples/image_augmentation.py --start-method spawn
"""

from __future__ import annotations

import argparse
import math
import multiprocessing

import keras
import numpy as np
from _common import BATCH_SIZE, N_SAMPLES, fit_and_count, report
from PIL import Image

from threadsafe_gen import SharedArray, rng_for

SIZE = 16  # 16x16 RGB images keep the example fast
FEATURES = 1 + 3  # the sample id, then the mean of each augmented channel
SEED = 1234


def make_images(n: int = N_SAMPLES) -> np.ndarray:
    """n synthetic RGB images (gradients with a per-image offset)."""
    ramp = np.linspace(0, 200, SIZE, dtype=np.float32)
    base = ramp[None, :, None] + ramp[None, None, :]
    images = (base[..., None] + np.arange(n, dtype=np.float32)[:, None, None, None]) % 255
    return np.broadcast_to(images, (n, SIZE, SIZE, 3)).astype(np.uint8)


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random rotation, flip and brightness with Pillow."""
    picture = Image.fromarray(image).rotate(float(rng.uniform(-30, 30)))
    if rng.random() < 0.5:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(picture, dtype=np.float32) * float(rng.uniform(0.8, 1.2)) / 255.0


class AugmentedImages(keras.utils.PyDataset):
    """Each batch: (id, mean R, mean G, mean B) of freshly augmented images."""

    def __init__(self, images: SharedArray, batch_size: int = BATCH_SIZE, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.images = images  # the SharedArray itself, not .array: that would pickle by value
        self.batch_size = batch_size
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        lo = index * self.batch_size
        hi = min(lo + self.batch_size, len(self.images))
        x = np.empty((hi - lo, FEATURES), dtype=np.float32)  # fresh per call, never a shared buffer
        for row, sample in enumerate(range(lo, hi)):
            image = augment(self.images[sample], rng_for(sample, self.epoch, SEED))
            x[row, 0] = sample
            x[row, 1:] = image.mean(axis=(0, 1))
        return x, x[:, 1:2]

    def on_epoch_end(self) -> None:
        # Runs in the training process; Keras 3 starts the next epoch's workers after it.
        self.epoch += 1


def make_loader(*, workers: int = 2, use_multiprocessing: bool = True) -> AugmentedImages:
    """The dataset over a SharedArray of synthetic images (used by check_examples.py)."""
    return AugmentedImages(
        SharedArray.from_array(make_images()),
        workers=workers,
        use_multiprocessing=use_multiprocessing,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-method", choices=["fork", "spawn", "forkserver"], default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.start_method:
        multiprocessing.set_start_method(args.start_method, force=True)
    loader = make_loader(workers=args.workers)
    with loader.images:
        seen = fit_and_count(loader, features=FEATURES)
        title = f"Pillow augmentation, SharedArray of {len(loader.images)} images, workers={args.workers} ({multiprocessing.get_start_method()})"
        report(title, seen)
        # Same sample, same epoch -> same augmentation, wherever it runs; next epoch -> different.
        first = augment(loader.images[0], rng_for(0, 0, SEED))
        again = augment(loader.images[0], rng_for(0, 0, SEED))
        later = augment(loader.images[0], rng_for(0, 1, SEED))
        print(
            f"rng_for: reproducible={np.array_equal(first, again)}, differs next epoch={not np.array_equal(first, later)}"
        )


if __name__ == "__main__":
    main()
