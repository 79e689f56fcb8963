"""Randomness rule (threadsafe_gen/_lint/rules/rng.py): TSG551."""

from __future__ import annotations

import textwrap

import pytest
from lint_cases.support import LOADER, codes, getitem

from threadsafe_gen._lint import lint_source


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
        ("rng = np.random.default_rng()\nreturn rng.random(4) + idx", ["TSG551"]),
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
    """An RNG object stored in __init__ is cloned into every worker: TSG551."""
    src = "import random\n" + LOADER.format(value=value)
    assert codes(src) == expected


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
