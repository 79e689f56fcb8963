"""Keras API rules (threadsafe_gen/_lint/rules/api.py): TSG451, TSG651, TSG652."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from lint_cases.support import codes

from threadsafe_gen._lint import lint_paths, lint_source

FIT = """
import threadsafe_gen
def gen():
    yield 1
@threadsafe_gen.threadsafe_generator
def safe():
    yield 1
if __name__ == "__main__":
{call}
"""


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("model.fit(gen(), workers=4)", ["TSG451"]),
        ("g = gen()\nmodel.fit(g, steps_per_epoch=3, workers=2)", ["TSG451"]),
        ("model.fit(x=(i for i in range(3)), workers=2)", ["TSG451"]),
        (
            "model.fit(threadsafe_gen.threadsafe_iter(gen()), workers=4, use_multiprocessing=True)",
            ["TSG451"],
        ),
        ("model.fit(gen(), workers=4)\nmodel.fit(safe(), workers=4)", ["TSG451"]),
        ("model.fit(threadsafe_gen.threadsafe_iter(gen()), workers=4)", []),
        ("model.fit(safe(), workers=4)", []),
        ("model.fit(gen(), workers=1)", []),
        ("model.fit(gen())", []),
        ("model.fit(dataset, workers=4, use_multiprocessing=True)", []),
    ],
)
def test_generator_passed_to_fit(call: str, expected: list[str]) -> None:
    """Generators to fit with workers>1 or processes give TSG451; locked ones with threads do not."""
    assert codes(FIT.format(call=textwrap.indent(call, "    "))) == expected


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ("self.x = x", ["TSG651"]),
        ("super().__init__(**kwargs)\nself.x = x", []),
        ("super(Loader, self).__init__(**kwargs)", []),
        ("keras.utils.PyDataset.__init__(self, **kwargs)", []),
        ("super().__init__(workers=4)", []),
    ],
)
def test_pydataset_super_init(init: str, expected: list[str]) -> None:
    """A PyDataset __init__ that never calls super().__init__ gives TSG651."""
    src = f"""
import keras
class Loader(keras.utils.PyDataset):
    def __init__(self, x, **kwargs):
{textwrap.indent(init, " " * 8)}
"""
    assert codes(src) == expected


def test_super_init_without_kwargs_is_info() -> None:
    """super().__init__() without **kwargs is reported as info: workers= cannot be passed."""
    src = """
    import keras
    class Loader(keras.utils.PyDataset):
        def __init__(self, x):
            super().__init__()
    """
    (finding,) = lint_source(textwrap.dedent(src)).findings
    assert (finding.code, finding.severity.value) == ("TSG651", "info")


def test_super_init_passing_the_worker_arguments_by_position_is_clean() -> None:
    """Keras' own tests pass workers, use_multiprocessing, max_queue_size positionally."""
    src = """
    import keras
    class Loader(keras.utils.PyDataset):
        def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
            super().__init__(workers, use_multiprocessing, max_queue_size)
    """
    assert codes(src) == []


def test_tf_keras_sequence_needs_no_super_init() -> None:
    """tf_keras' Sequence has no constructor arguments: no TSG651."""
    src = """
    from tf_keras.utils import Sequence
    class Loader(Sequence):
        def __init__(self, x):
            self.x = x
    """
    assert codes(src) == []


@pytest.mark.parametrize("method", ["fit_generator", "evaluate_generator", "predict_generator"])
def test_deprecated_generator_methods(method: str) -> None:
    """fit_generator/evaluate_generator/predict_generator calls give TSG652."""
    assert codes(f"model.{method}(data)") == ["TSG652"]


def test_fit_is_not_deprecated() -> None:
    """fit/evaluate/predict are fine."""
    assert codes("model.fit(data)\nmodel.evaluate(data)\nmodel.predict(data)") == []


SEQUENCE = """
{imports}
class Loader({base}):
    def __init__(self, x):
        self.x = x
    def __len__(self):
        return 4
    def __getitem__(self, idx):
        return self.x[idx]

def train(model, x):
{train}
"""


@pytest.mark.parametrize(
    ("imports", "base", "train", "expected"),
    [
        # Keras 2 by the file: fit_generator, fit(workers=), tf_keras-only modules
        ("import keras", "keras.utils.Sequence", "model.fit_generator(Loader(x), workers=4)", None),
        (
            "from tensorflow.keras.utils import Sequence",
            "Sequence",
            "model.fit(Loader(x), workers=4, use_multiprocessing=True)",
            None,
        ),
        (
            "from keras.utils import Sequence\nfrom keras.layers.core import Dense",
            "Sequence",
            "model.fit(Loader(x))",
            None,
        ),
        # Keras 3 by the file: the worker arguments go to the dataset
        (
            "import keras",
            "keras.utils.Sequence",
            "model.fit(Loader(x, workers=4))",
            "warning",
        ),
        # the file cannot tell: info, saying so
        ("from tensorflow.keras.utils import Sequence", "Sequence", "model.fit(Loader(x))", "info"),
        # a PyDataset is Keras 3 whatever else the file does
        (
            "import keras",
            "keras.utils.PyDataset",
            "model.fit_generator(Loader(x), workers=4)",
            "warning",
        ),
    ],
)
def test_tsg651_follows_the_keras_the_file_targets(
    imports: str, base: str, train: str, expected: str | None
) -> None:
    """Issue 10 item 1: TSG651 only for Keras 3 code; a Sequence of a Keras 2 file (its
    workers= go to fit/fit_generator) is fine; where the file cannot tell, info."""
    src = SEQUENCE.format(imports=imports, base=base, train=textwrap.indent(train, "    "))
    found = [f for f in lint_source(src).findings if f.code == "TSG651"]
    assert [f.severity.value for f in found] == ([expected] if expected else [])
    if expected == "info":
        assert "this file does not show which Keras it targets" in found[0].message
    if expected == "warning" and "PyDataset" not in base:
        assert "(this file targets Keras 3: it passes the worker arguments to Loader(...))" in (
            found[0].message
        )


def test_tsg651_of_a_subclass_of_a_project_sequence_in_another_file(tmp_path: Path) -> None:
    """The base class in another file decides Sequence or PyDataset; the file of the
    subclass decides the Keras of a Sequence."""
    (tmp_path / "base.py").write_text(
        "import keras\nclass Base(keras.utils.Sequence):\n    pass\n"
        "class Base3(keras.utils.PyDataset):\n    pass\n"
    )
    sub = (
        "from base import {b}\nclass Loader({b}):\n    def __init__(self, x):\n        self.x = x\n"
    )
    (tmp_path / "k2.py").write_text(sub.format(b="Base") + "model.fit_generator(Loader(1))\n")
    (tmp_path / "k3.py").write_text(sub.format(b="Base3") + "model.fit_generator(Loader(1))\n")
    (tmp_path / "unsure.py").write_text(sub.format(b="Base"))
    found = lint_paths([tmp_path], root=tmp_path, select=["TSG651"]).findings
    assert sorted((f.location.file, f.severity.value) for f in found if f.location) == [
        ("k3.py", "warning"),
        ("unsure.py", "info"),
    ]


RECIPE = """
import threading
class {cls}:
    def __init__(self, it):
        self.it = it
        self.lock = threading.Lock()
    def __iter__(self):
        return self
    def __next__(self):
        {next_body}
def threadsafe_generator(f):
    def g(*a, **kw):
        return {cls}(f(*a, **kw))
    return g
@threadsafe_generator
def batches():
    while True:
        yield 1
def plain():
    yield 1
model.fit_generator({data}, steps_per_epoch=10, workers=4)
"""


@pytest.mark.parametrize(
    ("next_body", "data", "expected"),
    [
        # the recipe with its lock: the decorated generator and a direct wrap are locked
        ("with self.lock:\n            return next(self.it)", "batches()", ["TSG652"]),
        ("with self.lock:\n            return next(self.it)", "LockedIter(plain())", ["TSG652"]),
        # the recipe that forgets its lock: TSG351 at the class says it, once
        ("return next(self.it)", "batches()", ["TSG351", "TSG652"]),
        # an undecorated generator is still TSG451
        ("with self.lock:\n            return next(self.it)", "plain()", ["TSG451", "TSG652"]),
    ],
)
def test_generator_wrapped_by_a_lock_recipe_of_the_module(
    next_body: str, data: str, expected: list[str]
) -> None:
    """The threadsafe_iter recipe copied into a project (a lock-owning iterator class and the
    decorator that wraps generators in it) makes fit(workers=4) safe: no TSG451."""
    src = RECIPE.format(cls="LockedIter", next_body=next_body, data=data)
    assert codes(src) == expected


def test_imported_lock_wrapper_is_trusted_by_its_name() -> None:
    """`from utils import threadsafe_generator`: its own file is checked for TSG351."""
    src = """
    from utils.threading import threadsafe_generator, ThreadSafeIter
    @threadsafe_generator
    def batches():
        yield 1
    def plain():
        yield 1
    model.fit(batches(), workers=4)
    model.fit(ThreadSafeIter(plain()), workers=4)
    """
    assert codes(src) == []


def test_generator_function_imported_from_a_module_linted_alongside(tmp_path: Path) -> None:
    """Issue 10 item 12: fit_generator(gen(...), workers=16, use_multiprocessing=True) with
    `gen` imported from another file linted together is TSG451 (and the generator's global
    RNG is TSG551 in its own file); a function that is no generator, or a locked one with
    threads, is not."""
    pkg = tmp_path / "proj"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "data.py").write_text(
        "import numpy as np\nimport threadsafe_gen\n"
        "def batches(paths):\n    while True:\n        yield np.random.rand(4)\n"
        "@threadsafe_gen.threadsafe_generator\ndef safe():\n    yield 1\n"
        "def dataset():\n    return [1, 2]\n"
    )
    (pkg / "train.py").write_text(
        "from .data import batches, dataset, safe\n"
        "from . import data\n"
        "model.fit_generator(batches([]), workers=16, use_multiprocessing=True)\n"
        "model.fit(data.batches([]), workers=2)\n"
        "model.fit(dataset(), workers=16, use_multiprocessing=True)\n"
        "model.fit(safe(), workers=4)\n"
    )
    found = lint_paths([pkg], root=tmp_path, select=["TSG451", "TSG551"]).findings
    assert sorted((f.code, f.location.file, f.location.line) for f in found if f.location) == [
        ("TSG451", "proj/train.py", 3),
        ("TSG451", "proj/train.py", 4),
        ("TSG551", "proj/data.py", 5),
    ]
    alone = lint_paths([pkg / "train.py"], root=tmp_path, select=["TSG451"]).findings
    assert alone == []  # the other file is not linted: nothing is known about batches
