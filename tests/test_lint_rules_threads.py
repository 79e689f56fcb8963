"""Thread-safety rules (threadsafe_gen/_lint/rules/threads.py): TSG351, TSG352, TSG353."""

from __future__ import annotations

import textwrap

import pytest
from lint_cases.support import codes, getitem

from threadsafe_gen._lint import lint_source

RECIPE = """
import threading
class threadsafe_iter:
    def __init__(self, it):
        self.it = it
        self.lock = threading.Lock()
    def __iter__(self):
        return self
    def __next__(self):
        {body}
    def next(self):
        with self.lock:
            return next(self.it)
"""


def test_next_without_lock_is_reported() -> None:
    """The popular recipe with the `with self.lock:` forgotten gives TSG351."""
    assert codes(RECIPE.format(body="return next(self.it)")) == ["TSG351"]


def test_next_with_lock_is_clean() -> None:
    """__next__ under `with self.lock:` is fine."""
    src = RECIPE.format(body="with self.lock:\n            return next(self.it)")
    assert codes(src) == []


def test_next_delegating_to_locked_method_is_clean() -> None:
    """The Python 2 recipe, `__next__` calling `self.next()` which holds the lock, is fine."""
    assert codes(RECIPE.format(body="return self.next()")) == []


def test_next_with_acquire_is_clean() -> None:
    """acquire()/release() counts as holding the lock."""
    body = "self.lock.acquire()\n        try:\n            return next(self.it)\n        finally:\n            self.lock.release()"
    assert codes(RECIPE.format(body=body)) == []


def test_iterator_without_lock_is_not_tsg351() -> None:
    """An iterator that owns no lock is not the recipe: no TSG351."""
    src = """
    class Count:
        def __init__(self):
            self.i = 0
        def __next__(self):
            self.i += 1
            return self.i
    """
    assert codes(src) == []


@pytest.mark.parametrize("attr", ["block_size", "clock", "blocked"])
def test_attribute_with_lock_inside_a_word_is_not_a_lock(attr: str) -> None:
    """`self.block_size` or `self.clock` is not a lock: an iterator using it is not TSG351."""
    src = f"""
    class Chunks:
        def __init__(self, data):
            self.data = data
            self.{attr} = 4
        def __next__(self):
            chunk, self.data = self.data[: self.{attr}], self.data[self.{attr} :]
            return chunk
    """
    assert codes(src) == []


@pytest.mark.parametrize("attr", ["_lock", "read_lock", "mutex", "_locks"])
def test_attribute_named_as_a_lock_counts_as_one(attr: str) -> None:
    """A lock made elsewhere but named like one (`self._lock = make()`) is the recipe's lock."""
    src = f"""
    class It:
        def __init__(self, it, make):
            self.it = it
            self.{attr} = make()
        def __next__(self):
            return next(self.it)
    """
    assert codes(src) == ["TSG351"]


def test_getitem_assigning_self_is_reported() -> None:
    """`self.x = ...` and `self.x += ...` inside __getitem__ give TSG352 each."""
    body = """
    self.last = idx
    self.count += 1
    return idx
    """
    assert codes(getitem(body)) == ["TSG352", "TSG352"]


def test_getitem_with_locals_is_clean() -> None:
    """Local variables and reading self are fine."""
    assert codes(getitem("batch = self.x[idx]\nreturn batch")) == []


def test_getitem_ignoring_index_is_reported() -> None:
    """A __getitem__ that never reads its index but serves state that changes gives TSG353."""
    src = getitem("return self.x[0]") + "    def advance(self):\n        self.x = load()\n"
    assert codes(src) == ["TSG353"]


def test_getitem_ignoring_index_of_epoch_state_is_clean() -> None:
    """State set only between epochs (on_epoch_end, and the private helpers only it and
    __init__ call) is the same for every batch of the epoch: a curriculum simulator that
    ignores its index loses track of nothing."""
    src = """
    import keras
    class Curriculum(keras.utils.PyDataset):
        def __init__(self, sim, **kwargs):
            super().__init__(**kwargs)
            self.sim, self.level = sim, 0
        def __len__(self):
            return 100
        def _harder(self):
            self.level += 1
        def on_epoch_end(self):
            self._harder()
        def __getitem__(self, index):
            return self.sim.sample(self.level)
    """
    assert codes(src) == []
    # on_epoch_end called from __getitem__ itself runs per batch: a cursor again.
    called = src.replace(
        "return self.sim.sample(self.level)",
        "self.on_epoch_end()\n            return self.sim.sample(self.level)",
    )
    assert codes(called, select=["TSG353"]) == ["TSG353"]


def test_getitem_ignoring_index_of_set_up_state_only_is_clean() -> None:
    """Issue 10 item 2: an online simulator reading only what __init__ (and the private
    helpers only __init__ calls) set up returns fresh samples: no TSG353."""
    src = """
    import keras
    import numpy as np
    class Simulated(keras.utils.PyDataset):
        def __init__(self, simulator, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.simulator = simulator
            self._configure(batch_size)
        def _configure(self, batch_size):
            self.batch_size = batch_size
        def __len__(self):
            return 100
        def __getitem__(self, index):
            return self.simulator.sample(np.random.default_rng(), self.batch_size)
    """
    assert codes(src, select=["TSG3"]) == []
    # A public method may be called between batches: what it assigns is changing state.
    assert codes(src.replace("_configure", "configure"), select=["TSG3"]) == ["TSG353"]


def test_underscore_index_does_not_hide_a_cursor() -> None:
    """Issue 10 item 11: `def __getitem__(self, _): return next(self.it)` is TSG353."""
    src = getitem("return next(self.it)").replace("(self, idx)", "(self, _)")
    assert codes(src) == ["TSG353"]
    (finding,) = lint_source(src).findings
    assert "never reads its index argument `_`" in finding.message
    assert "it calls `next(self.it)`" in finding.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return np.zeros((4, 3)), np.ones((4, 1))", []),  # a constant batch: pure
        ("yield np.ones((2, 11))", []),
        ("return np.random.rand(4, 3), np.zeros(4)", ["TSG551"]),  # random, but no state
        ("return next(self.it)", ["TSG353"]),  # a cursor
    ],
)
def test_getitem_ignoring_index_is_tsg353_only_when_it_reads_state(
    body: str, expected: list[str]
) -> None:
    """Ignoring the index loses track of the data only when the batch comes from state."""
    assert codes("import numpy as np\n" + getitem(body)) == expected


def test_getitem_reading_index_in_nested_function_is_clean() -> None:
    """Reading the index inside a nested lambda counts as reading it."""
    assert codes(getitem("f = lambda: self.x[idx]\nreturn f()")) == []


def test_abstract_getitem_is_not_reported() -> None:
    """`raise NotImplementedError` is an abstract method, not a bug."""
    assert codes(getitem("raise NotImplementedError")) == []


def test_reused_buffer_returned_from_getitem() -> None:
    """Filling self.buf in place and returning it gives TSG352; a cache that is not returned does not."""
    assert codes(getitem("self.buf[:] = idx\nreturn self.buf, self.buf[:, 1]")) == ["TSG352"]
    assert codes(getitem("self.cache[idx] = idx\nreturn idx")) == []


@pytest.mark.parametrize(
    "body",
    [
        "raise TypeError('not subscriptable')",
        "return self",
        "return 1",
    ],
)
def test_getitem_that_serves_nothing_is_not_tsg353(body: str) -> None:
    """A __getitem__ that only raises or returns a constant/self is not a loader losing its index."""
    assert codes(getitem(body)) == []


def test_underscore_index_without_changing_state_is_clean() -> None:
    """An index argument named `_...` over set-up state only: nothing to lose track of."""
    assert codes(getitem("return self.x[0]").replace("(self, idx)", "(self, _idx)")) == []


def test_state_assigned_in_a_helper_of_getitem_is_reported() -> None:
    """Issue 10 item 13: `self._resize(i)` setting `self.size` is TSG352, naming the chain;
    two assignments of one attribute in one method are one finding."""
    src = """
    class Resizing:
        def __init__(self, data):
            self.data = data
            self.size = 4
        def __len__(self):
            return 8
        def _resize(self, i):
            self.size = 2 + i % 3
            if i == 0:
                self.size = 4
        def __getitem__(self, i):
            self._resize(i)
            return self.data[i, : self.size]
    """
    (finding,) = lint_source(textwrap.dedent(src)).findings
    assert finding.code == "TSG352"
    assert finding.path == "<string>.Resizing._resize"
    assert finding.message.startswith(
        "Resizing.__getitem__ -> Resizing._resize assigns self.size = ...: worker threads race"
    )


def test_iterator_stored_on_self_and_advanced_by_getitem_is_reported() -> None:
    """Issue 10 item 15: a generator passed into __init__ and consumed with next(self.gen)
    in a method __getitem__ calls: one TSG352 naming the chain."""
    src = """
    import keras
    class Detections(keras.utils.PyDataset):
        def __init__(self, images, transforms, **kwargs):
            super().__init__(**kwargs)
            self.images = images
            self.transforms = transforms
        def __len__(self):
            return len(self.images)
        def _augment(self, image):
            return image * next(self.transforms) + next(self.transforms)
        def __getitem__(self, index):
            return self._augment(self.images[index])
    """
    (finding,) = lint_source(textwrap.dedent(src)).findings
    assert finding.code == "TSG352"
    assert "Detections.__getitem__ -> Detections._augment calls next(self.transforms)" in (
        finding.message
    )


def test_cursor_ignoring_the_index_is_one_finding() -> None:
    """`return next(self.it)` ignoring the index: TSG353 says it; no TSG352 besides."""
    assert codes(getitem("return next(self.it)")) == ["TSG353"]


def test_per_process_lazy_handle_is_not_shared_state() -> None:
    """A handle reopened when the process id changes is per process on purpose: no TSG352."""
    src = """
    import os
    import lmdb
    class Photos:
        def __init__(self, path):
            self.path, self._env, self._pid = path, None, None
        def _environment(self):
            if self._pid != os.getpid():
                self._env = lmdb.open(self.path, readonly=True)
                self._pid = os.getpid()
            return self._env
        def __len__(self):
            return 8
        def __getitem__(self, index):
            with self._environment().begin() as t:
                return t.get(str(index).encode())
    """
    assert codes(src) == []
    assert codes(src.replace("if self._pid != os.getpid():", "if self._env is None:")) == [
        "TSG352",
        "TSG352",
    ]


def test_state_changed_with_a_lock_held_is_not_a_race() -> None:
    """Helpers called, and assignments made, under `with self._lock:` run one thread at a
    time (threadsafe_gen's own GeneratorDataset draws that way): no TSG352."""
    src = """
    import threading
    class Drawn:
        def __init__(self, source):
            self._lock = threading.Lock()
            self._source, self._stream, self._drawn = source, None, 0
        def __len__(self):
            return 8
        def _draw(self):
            if self._stream is None:
                self._stream = iter(self._source)
            return next(self._stream)
        def __getitem__(self, index):
            with self._lock:
                self._drawn += 1
                return self._draw(), index
    """
    assert codes(src, select=["TSG35"]) == []  # (the lock is TSG151, holding it all TSG751)
    unlocked = src.replace("with self._lock:", "if True:")
    assert codes(unlocked, select=["TSG35"]) == ["TSG352", "TSG352", "TSG352"]


def test_attributes_assigned_in_one_statement_are_one_finding() -> None:
    """`self.net_h, self.net_w = size, size` (keras-yolo3's multi-scale helper): one finding."""
    body = "self.net_h, self.net_w = idx, idx\nreturn self.x[idx]"
    (finding,) = lint_source(getitem(body)).findings
    assert "assigns self.net_h, self.net_w = ...: worker threads race on them" in finding.message


def test_cursor_advanced_under_a_lock_is_a_warning() -> None:
    """`with self.lock: return next(self.gen)` ignoring the index: threads take turns, so
    only worker processes serve the same batches: TSG353 as a warning saying so."""
    src = """
    import threading
    class Locked:
        def __init__(self, gen):
            self.gen, self.lock = gen, threading.Lock()
        def __len__(self):
            return 8
        def __getitem__(self, index):
            with self.lock:
                return next(self.gen)
    """
    found = [f for f in lint_source(textwrap.dedent(src)).findings if f.code == "TSG353"]
    assert [f.severity.value for f in found] == ["warning"]
    assert "with a lock held): worker threads take turns" in found[0].message
