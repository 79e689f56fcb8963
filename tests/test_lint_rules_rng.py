"""Randomness rule (threadsafe_gen/_lint/rules/rng.py): TSG551."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from lint_cases.support import codes, getitem

from threadsafe_gen._lint import lint_paths, lint_source


def test_epoch_order_stored_on_the_loader_is_not_an_augmentation() -> None:
    """Keras' image iterators draw the epoch's order lazily: `self.order = permutation(n)`."""
    src = """
    import numpy as np
    import keras
    class Loader(keras.utils.PyDataset):
        def __len__(self):
            return 4
        def _set_order(self):
            self.order = np.random.permutation(32)
        def __getitem__(self, idx):
            if self.order is None:
                self._set_order()
            return self.x[self.order[idx * 8 : (idx + 1) * 8]]
    """
    assert codes(src, select=["TSG551"]) == []  # (the lazy assignment is TSG352)
    assert codes(src.replace("self.order = np", "order = np"), select=["TSG551"]) == ["TSG551"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return np.random.rand(4) + idx", ["TSG551"]),
        ("from numpy.random import rand\nreturn rand(4) + idx", ["TSG551"]),
        ("from numpy import random as npr\nreturn npr.normal(size=4) + idx", ["TSG551"]),
        # Issue 10 item 2: unseeded, a generator made per call draws fresh OS entropy.
        ("rng = np.random.default_rng()\nreturn rng.random(4) + idx", []),
        ("rng = np.random.default_rng(42)\nreturn rng.random(4) + idx", ["TSG551"]),
        ("rng = np.random.default_rng([self.seed, idx])\nreturn rng.random(4)", []),
        ("seed = self.seed + idx\nrng = np.random.default_rng(seed)\nreturn rng.random(4)", []),
        ("rng = threadsafe_gen.rng_for(idx, epoch=0)\nreturn rng.random(4)", []),
        ("np.random.seed(idx)\nreturn np.random.rand(4)", []),
        ("return np.arange(4) + idx", []),
    ],
)
def test_global_numpy_rng_in_getitem(body: str, expected: list[str]) -> None:
    """numpy's global RNG and unseeded/constant-seeded generators give TSG551; per-index seeds do not."""
    src = "import numpy as np\nimport threadsafe_gen\n" + getitem(body)
    assert codes(src) == expected


def test_stdlib_random_is_info() -> None:
    """stdlib random is reseeded after fork: reported as info (reproducibility), not warning."""
    src = "import random\n" + getitem("return random.random() + idx")
    (finding,) = lint_source(src).findings
    assert (finding.code, finding.severity.value) == ("TSG551", "info")


def test_generator_used_by_workers_is_checked_for_rng() -> None:
    """A generator passed to fit(workers=4) is checked for global RNG use; one fitted alone is not."""
    src = """
    import numpy as np
    def batches():
        while True:
            yield np.random.rand(4)
    model.fit(batches(), workers={workers})
    """
    assert codes(src.format(workers=4)) == ["TSG451", "TSG551"]
    assert codes(src.format(workers=1)) == []


STORED_RNG = """
import random
import numpy as np
import keras
class Loader(keras.utils.PyDataset):
    def __init__(self, x, **kwargs):
        super().__init__(**kwargs)
        self.x = x
        self.rng = {value}
        self.order = np.arange(len(x))
    def __len__(self):
        return 4
    def _noise(self):
        return self.rng.random()
    def __getitem__(self, idx):
        return self.x[self.order[idx]] + {draw}
    def on_epoch_end(self):
        self.rng.shuffle(self.order)
"""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("np.random.default_rng()", ["TSG551"]),
        ("np.random.RandomState(0)", ["TSG551"]),
        ("random.Random(3)", ["TSG551"]),
        ("np.random.SeedSequence(0)", []),
    ],
)
def test_rng_object_stored_on_loader(value: str, expected: list[str]) -> None:
    """An RNG object stored in __init__ and drawn from by the workers (in a method
    __getitem__ calls) is cloned into every worker: TSG551 naming where it is drawn."""
    src = STORED_RNG.format(value=value, draw="self._noise()")
    assert codes(src) == expected
    if expected:
        (finding,) = lint_source(src).findings
        assert "and Loader.__getitem__ -> Loader._noise draws from it" in finding.message


def test_rng_object_used_only_in_on_epoch_end_is_fine() -> None:
    """Issue 10 item 3: shuffling in on_epoch_end (and the helpers only __init__ and
    on_epoch_end call) happens in the parent; the workers never draw from the RNG."""
    assert codes(STORED_RNG.format(value="np.random.default_rng(0)", draw="0")) == []


def test_rng_object_of_a_subclass_without_getitem_is_reported() -> None:
    """Stored for an inherited __getitem__ the linter cannot see: reported."""
    src = """
    import numpy as np
    from tf_keras.utils import Sequence
    class Noisy(Sequence):
        def __init__(self, x):
            self.rng = np.random.default_rng(0)
    """
    assert codes(src) == ["TSG551"]


def test_global_rng_in_helper_called_by_getitem() -> None:
    """np.random in a method that __getitem__ calls (two levels deep) gives TSG551 naming the chain."""
    src = """
    import numpy as np
    import keras
    class Loader(keras.utils.PyDataset):
        def __len__(self):
            return 4
        def __getitem__(self, idx):
            return self._augment(self.x[idx])
        def _augment(self, x):
            return self._noise(x)
        def _noise(self, x):
            return x + np.random.normal(size=x.shape)
        def unused(self):
            return np.random.rand()
    """
    (finding,) = lint_source(textwrap.dedent(src)).findings
    assert finding.code == "TSG551"
    assert finding.message.startswith(
        "Loader.__getitem__ -> Loader._augment -> Loader._noise calls numpy.random.normal()"
    )


def test_threadsafe_generator_body_is_checked_for_rng() -> None:
    """A @threadsafe_generator function is made for workers: its global RNG use is reported."""
    src = """
    import numpy as np
    import threadsafe_gen
    @threadsafe_gen.threadsafe_generator
    def batches():
        while True:
            yield np.random.rand(4)
    """
    assert codes(src) == ["TSG551"]


def test_one_finding_per_method_listing_every_call_site() -> None:
    """Issue 10 item 8: seven global draws in one method are one TSG551 listing them."""
    body = """
    lam = np.random.beta(0.4, 0.4)
    partner = np.random.randint(0, 8)
    flip = np.random.rand() < 0.5
    return lam * self.x[idx] + (1 - lam) * self.x[partner], flip
    """
    src = "import numpy as np\n" + getitem(body)
    (finding,) = lint_source(src).findings
    assert finding.code == "TSG551"
    assert finding.location is not None
    assert finding.location.line == 9
    assert finding.message.startswith(
        "Loader.__getitem__ calls numpy.random.beta() (line 9), numpy.random.randint() "
        "(line 10) and numpy.random.rand() (line 11) on numpy's global RNG"
    )


def test_kinds_of_draws_in_one_method_share_one_finding() -> None:
    """numpy's global RNG (warning) and stdlib random (info) in one method: one warning."""
    src = "import random\nimport numpy as np\n" + getitem(
        "return np.random.rand(4) + random.random() + idx"
    )
    (finding,) = lint_source(src).findings
    assert (finding.code, finding.severity.value) == ("TSG551", "warning")
    assert "; it also calls random.random() on Python's shared global RNG" in finding.message


@pytest.mark.parametrize(
    ("header", "body", "expected"),
    [
        # albumentations: the pipeline object on self, called with image=
        ("import albumentations as A", "return self.augment(image=self.x[idx])['image']", 1),
        # imgaug: images=, and the augment_images method
        ("import imgaug.augmenters as iaa", "return self.aug(images=self.x[idx])", 1),
        ("import imgaug.augmenters as iaa", "return self.aug.augment_images(self.x[idx])", 1),
        # reseeded from the index first: per batch, not shared
        (
            "import albumentations as A",
            "self.augment.set_random_seed(idx)\nreturn self.augment(image=self.x[idx])",
            0,
        ),
        # a pipeline built in the call draws fresh state
        (
            "import albumentations as A",
            "return A.Compose([A.HorizontalFlip()])(image=self.x[idx])",
            0,
        ),
        # a file whose pipelines only resize and normalise draws nothing
        (
            "import albumentations as A\nVAL = A.Compose([A.Resize(8, 8), A.Normalize()])",
            "return self.augment(image=self.x[idx])['image']",
            0,
        ),
        (
            "import albumentations as A\nTRAIN = A.Compose([A.Resize(8, 8), A.HorizontalFlip()])",
            "return self.augment(image=self.x[idx])['image']",
            1,
        ),
        # stateful TensorFlow ops seeded from the index draw per batch
        ("import tensorflow as tf", "return tf.random.uniform((4,), seed=idx)", 0),
        # without an augmentation library, image= is just a keyword
        ("import numpy as np", "return self.resize(image=self.x[idx])", 0),
        # TensorFlow's stateful random ops, and their stateless counterparts
        ("import tensorflow as tf", "return tf.image.random_flip_left_right(self.x[idx])", 1),
        ("import tensorflow as tf", "return tf.random.uniform((4,)) + idx", 1),
        (
            "import tensorflow as tf",
            "return tf.image.stateless_random_flip_left_right(self.x[idx], seed=(0, idx))",
            0,
        ),
        ("import tensorflow as tf", "return tf.image.resize(images=self.x[idx], size=(8, 8))", 0),
    ],
)
def test_hidden_global_rngs_of_augmentation_libraries(
    header: str, body: str, expected: int
) -> None:
    """Issue 10 item 16: albumentations and imgaug pipelines and tf.image.random_* ops."""
    found = lint_source(header + "\n" + getitem(body)).findings
    assert [f.code for f in found] == ["TSG551"] * expected


def test_tf_image_random_ops_are_listed_in_one_finding() -> None:
    """Two tf.image.random_* calls: one finding naming both."""
    src = "import tensorflow as tf\n" + getitem(
        "b = tf.image.random_flip_left_right(self.x[idx])\n"
        "return tf.image.random_brightness(b, max_delta=0.2)"
    )
    (finding,) = lint_source(src).findings
    assert "tensorflow.image.random_flip_left_right() (line 8) and " in finding.message
    assert "tensorflow.image.random_brightness() (line 9)" in finding.message
    assert "stateless_random_flip_left_right" in (finding.hint or "")


def test_listed_call_sites_in_a_notebook_name_their_cell(tmp_path: Path) -> None:
    """The call sites a finding lists are placed like the finding: cell and line in cell."""
    cells = [
        "import numpy as np\nimport keras",
        "class Loader(keras.utils.PyDataset):\n    def __len__(self):\n        return 4\n"
        "    def __getitem__(self, idx):\n        a = np.random.rand()\n"
        "        return a + np.random.rand() + idx",
    ]
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": c,
            }
            for c in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "train.ipynb").write_text(json.dumps(nb))
    (finding,) = lint_paths([tmp_path], root=tmp_path).findings
    assert "numpy.random.rand() (cell 2, line 5) and numpy.random.rand() (cell 2, line 6)" in (
        finding.message
    )


def test_torch_dataset_global_rng_is_not_reported() -> None:
    """torch.utils.data reseeds numpy and random in every worker and epoch: no TSG551 there,
    while the same class on a Keras base is still reported."""
    body = textwrap.dedent(
        """
        class Noisy({base}):
            def __len__(self):
                return 64

            def __getitem__(self, i):
                return np.float32(i) + np.random.normal()
        """
    )
    torch = "import numpy as np\nfrom torch.utils.data import Dataset\n" + body.format(
        base="Dataset"
    )
    keras = "import numpy as np\nimport keras\n" + body.format(base="keras.utils.PyDataset")
    assert codes(torch) == []
    assert codes(keras) == ["TSG551"]
