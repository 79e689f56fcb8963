"""Pickling rule (threadsafe_gen/_lint/rules/pickling.py): TSG151."""

from __future__ import annotations

import pytest
from lint_cases.support import LOADER, codes

from threadsafe_gen._lint import lint_source


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("threading.Lock()", ["TSG151"]),
        ("threading.RLock()", ["TSG151"]),
        ("threading.local()", ["TSG151"]),
        ("lambda x: x", ["TSG151"]),
        ("(i for i in range(3))", ["TSG151"]),
        ("stream()", ["TSG151"]),
        ("[1, 2, 3]", []),
        ("np.zeros(3)", []),
        ("path", []),
    ],
)
def test_init_stores_unpicklable(value: str, expected: list[str]) -> None:
    """Locks, lambdas and generators give TSG151; data nothing (connections, files and
    sockets, TSG251: tests/test_lint_rules_fork.py)."""
    assert codes(LOADER.format(value=value)) == expected


def test_our_picklable_lock_is_not_tsg151() -> None:
    """threadsafe_gen.Lock() pickles, so storing it is fine."""
    src = LOADER.replace("import threading,", "import threadsafe_gen, threading,")
    assert codes(src.format(value="threadsafe_gen.Lock()")) == []


def test_multiprocessing_lock_is_not_tsg151() -> None:
    """multiprocessing.Lock is passed to workers by inheritance, so it is not TSG151."""
    src = LOADER.replace("import threading,", "import multiprocessing, threading,")
    assert codes(src.format(value="multiprocessing.Lock()")) == []


def test_non_loader_may_hold_a_lock() -> None:
    """A plain class (no loader base, no __getitem__/__len__) may store a lock."""
    src = """
    import threading
    class Cache:
        def __init__(self):
            self.lock = threading.Lock()
    """
    assert codes(src) == []


def test_custom_pickling_exempts_tsg151() -> None:
    """A class with __getstate__/__reduce__ may hold a lock: it controls what is pickled."""
    src = LOADER.format(value="threading.Lock()").replace(
        "    def __len__(self):",
        "    def __getstate__(self):\n        return {}\n    def __len__(self):",
    )
    assert codes(src) == []


ARGUMENT = """
import keras
def transforms():
    while True:
        yield 1
class Loader(keras.utils.PyDataset):
    def __init__(self, x, fn{default}, **kwargs):
        super().__init__(**kwargs)
        self.x = x
        self.fn = fn
    def __len__(self):
        return 2
    def __getitem__(self, idx):
        return self.fn(self.x[idx])
{calls}
"""


@pytest.mark.parametrize(
    ("default", "calls", "expected"),
    [
        # issue 10 item 10: a lambda default stored on self
        ("=lambda x: x", "", ["TSG151"]),
        # a lambda or a generator passed where the class is constructed in this module
        ("", "Loader(data, lambda x: x + 1)", ["TSG151"]),
        ("", "Loader(data, fn=transforms())", ["TSG151"]),
        ("", "gen = transforms()\nLoader(data, fn=gen)", ["TSG151"]),
        # default and call site: one finding for the one attribute
        ("=lambda x: x", "Loader(data, fn=lambda x: -x)", ["TSG151"]),
        # a module-level def pickles by name
        ("=abs", "Loader(data, fn=len)", []),
    ],
)
def test_unpicklable_argument_stored_on_self(default: str, calls: str, expected: list[str]) -> None:
    """A parameter stored on self is unpicklable when its default or a value given to it
    in this module is a lambda or a generator."""
    assert codes(ARGUMENT.format(default=default, calls=calls)) == expected


def test_lambda_finding_names_the_runtime_code() -> None:
    """Issue 10 item 10: the lint finding names check_loader()'s code for the same problem
    (TSG102 for a lambda) and the places the lambda comes from."""
    src = ARGUMENT.format(default="=lambda x: x", calls="Loader(data, fn=lambda x: -x)")
    (finding,) = lint_source(src).findings
    assert "stores the argument `fn` on self.fn, and it is a lambda" in finding.message
    assert "by default and when passed at line 15:" in finding.message
    assert "check_loader() reports the same problem as TSG102" in finding.message
    (lock,) = lint_source(LOADER.format(value="threading.Lock()")).findings
    assert "check_loader() reports" not in lock.message  # TSG101 there: the same title


def test_a_name_is_a_generator_only_where_it_is_bound_to_one() -> None:
    """`g = gen()` in one function says nothing about a parameter `g` of another, nor does a
    call of an imported function (maybe no generator at all)."""
    src = ARGUMENT.format(
        default="",
        calls="def make():\n    fn = transforms()\n    return fn\n"
        "def train(fn):\n    return Loader(data, fn)\n"
        "def build():\n    from helpers import load\n    fn = load()\n    return Loader(data, fn)\n",
    )
    assert codes(src) == []
