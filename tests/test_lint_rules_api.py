"""Keras API rules (threadsafe_gen/_lint/rules/api.py): TSG451, TSG651, TSG652."""

from __future__ import annotations

import textwrap

import pytest
from lint_cases.support import codes

from threadsafe_gen._lint import lint_source

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
