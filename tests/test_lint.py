"""The static linter: one positive and one negative case per rule, import resolution, suppressions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from threadsafe_gen import REGISTRY
from threadsafe_gen._lint import lint_paths, lint_source, select_codes

CASES = Path(__file__).parent / "lint_cases"
LINT_CODES = sorted(c.code for c in REGISTRY.values() if c.kind == "lint")


def codes(src: str, **kwargs: object) -> list[str]:
    """Sorted codes found in a dedented snippet."""
    result = lint_source(textwrap.dedent(src), "snippet.py", **kwargs)  # type: ignore[arg-type]
    return sorted(f.code for f in result.findings)


# --- the registry's own examples are the first positive and negative cases -------------------


@pytest.mark.parametrize("code", [c for c in LINT_CODES if c not in {"TSG653", "TSG852"}])
def test_registry_example_triggers_its_code(code: str) -> None:
    """Each lint code's documented failing example produces that code."""
    assert code in codes(REGISTRY[code].example)


@pytest.mark.parametrize("code", LINT_CODES)
def test_registry_fixed_example_is_clean(code: str) -> None:
    """Each lint code's documented fix produces no finding at all."""
    assert codes(REGISTRY[code].fixed, report_unused_ignores=True) == []


# --- TSG351 next-without-lock ------------------------------------------------------------------

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


# --- TSG151 / TSG251: what __init__ stores on self ----------------------------------------------

LOADER = """
import threading, sqlite3, socket
import numpy as np
from keras.utils import Sequence as S

def stream():
    yield 1

class Loader(S):
    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.value = {value}
    def __len__(self):
        return 2
    def __getitem__(self, idx):
        return idx
"""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("threading.Lock()", ["TSG151"]),
        ("threading.RLock()", ["TSG151"]),
        ("threading.local()", ["TSG151"]),
        ("lambda x: x", ["TSG151"]),
        ("(i for i in range(3))", ["TSG151"]),
        ("stream()", ["TSG151"]),
        ("sqlite3.connect(path)", ["TSG251"]),
        ("open(path)", ["TSG251"]),
        ("socket.socket()", ["TSG251"]),
        ("[1, 2, 3]", []),
        ("np.zeros(3)", []),
        ("path", []),
    ],
)
def test_init_stores_unpicklable_or_handle(value: str, expected: list[str]) -> None:
    """Locks, lambdas and generators give TSG151; connections, files, sockets TSG251; data nothing."""
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


def test_duck_typed_loader_is_checked() -> None:
    """Any class with __getitem__ and __len__ counts as a loader."""
    src = """
    import sqlite3
    class Rows:
        def __init__(self, path):
            self.conn = sqlite3.connect(path)
        def __len__(self):
            return 3
        def __getitem__(self, i):
            return self.conn.execute("select ?", (i,)).fetchone()
    """
    assert codes(src) == ["TSG251"]


@pytest.mark.parametrize(
    "imports",
    [
        "from keras.utils import Sequence as S",
        "import keras\nS = None\nfrom keras.utils import PyDataset as S",
        "import tensorflow as tf\nS = tf.keras.utils.Sequence",
        "from tensorflow.keras.utils import Sequence as S",
        "from tf_keras.utils import Sequence as S",
        "from keras.utils.data_utils import Sequence as S",
        "from keras.src.trainers.data_adapters.py_dataset_adapter import PyDataset as S",
    ],
)
def test_loader_bases_resolved_through_imports(imports: str) -> None:
    """Every import spelling of Sequence/PyDataset makes the subclass a loader."""
    src = f"""
import threading
{imports}

class Loader(S):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lock = threading.Lock()
"""
    if "S = tf." in imports:  # a base written as an attribute chain, not a name
        src = src.replace("class Loader(S)", "class Loader(tf.keras.utils.Sequence)")
    assert codes(src) == ["TSG151"]


def test_unrelated_sequence_is_not_a_loader() -> None:
    """collections.abc.Sequence shares the name, not the meaning: not a loader by its base."""
    src = """
    import threading
    from collections.abc import Sequence
    class Box(Sequence):
        def __init__(self):
            self.lock = threading.Lock()
    """
    assert codes(src) == []


# --- TSG352 / TSG353: __getitem__ -----------------------------------------------------------------

GETITEM = """
import keras
class Loader(keras.utils.PyDataset):
    def __len__(self):
        return 4
    def __getitem__(self, idx):
{body}
"""


def getitem(body: str) -> str:
    """A PyDataset whose __getitem__ has *body*."""
    return GETITEM.format(body=textwrap.indent(textwrap.dedent(body), " " * 8))


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
    """A __getitem__ that never reads its index gives TSG353."""
    assert codes(getitem("return self.x[0]")) == ["TSG353"]


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
    assert codes(src) == []
    assert codes(src.replace("self.order = np", "order = np")) == ["TSG551"]


def test_getitem_reading_index_in_nested_function_is_clean() -> None:
    """Reading the index inside a nested lambda counts as reading it."""
    assert codes(getitem("f = lambda: self.x[idx]\nreturn f()")) == []


def test_abstract_getitem_is_not_reported() -> None:
    """`raise NotImplementedError` is an abstract method, not a bug."""
    assert codes(getitem("raise NotImplementedError")) == []


# --- TSG551: global RNG -----------------------------------------------------------------------------


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


# --- TSG751: lock around the whole __getitem__ ----------------------------------------------------


def test_lock_around_whole_getitem_is_reported() -> None:
    """`with self.lock:` as the whole body (after the docstring) gives TSG751."""
    src = getitem('"""Doc."""\nwith self.lock:\n    return self.x[idx]')
    src = src.replace(
        "class Loader(keras.utils.PyDataset):",
        "import threading\nclass Loader(keras.utils.PyDataset):\n    lock = threading.Lock()",
    )
    assert codes(src) == ["TSG751"]


def test_acquire_release_around_whole_getitem_is_reported() -> None:
    """acquire(); try: ... finally: release() as the whole body gives TSG751."""
    body = "self.lock.acquire()\ntry:\n    return self.x[idx]\nfinally:\n    self.lock.release()"
    init = "    def __init__(self, **kwargs):\n        super().__init__(**kwargs)\n        self.lock = None\n"
    src = getitem(body).replace("    def __len__", init + "    def __len__")
    assert codes(src) == ["TSG751"]


def test_lock_around_part_of_getitem_is_clean() -> None:
    """A lock held around only the shared part is fine."""
    body = "x = self.x[idx]\nwith self.lock:\n    self_total = 1\nreturn x"
    assert codes(getitem(body)) == []


# --- TSG451: generator to fit with workers -------------------------------------------------------

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


# --- TSG651: PyDataset without super().__init__ ------------------------------------------------------


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


def test_framework_base_linted_alongside_is_still_known(tmp_path: Path) -> None:
    """Linting keras itself: its PyDataset (no __len__) among the files changes nothing."""
    base = tmp_path / "keras" / "src"
    base.mkdir(parents=True)
    (tmp_path / "keras" / "__init__.py").write_text("")
    (base / "__init__.py").write_text("")
    (base / "py_dataset.py").write_text(
        "class PyDataset:\n"
        "    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):\n"
        "        self.workers = workers\n"
        "    def __getitem__(self, index):\n"
        "        raise NotImplementedError\n"
    )
    (base / "user.py").write_text(
        "from keras.src.py_dataset import PyDataset\n"
        "class Rows(PyDataset):\n"
        "    def __init__(self, x):\n"
        "        self.x = x\n"
        "    def __getitem__(self, i):\n"
        "        self.last = i\n"
        "        return self.x[i]\n"
    )
    alone = lint_paths([base / "user.py"], root=tmp_path).findings
    together = lint_paths([tmp_path / "keras"], root=tmp_path).findings
    assert sorted(f.code for f in alone) == ["TSG352", "TSG651"]
    assert [(f.code, f.path) for f in together] == [(f.code, f.path) for f in alone]


def test_module_level_alias_of_the_base_is_followed() -> None:
    """`Base = keras.utils.PyDataset` at module level resolves like an import."""
    src = """
    import keras
    Base = keras.utils.PyDataset
    class Loader(Base):
        def __init__(self, x):
            self.x = x
    """
    assert codes(src) == ["TSG651"]


def test_tf_keras_sequence_needs_no_super_init() -> None:
    """tf_keras' Sequence has no constructor arguments: no TSG651."""
    src = """
    from tf_keras.utils import Sequence
    class Loader(Sequence):
        def __init__(self, x):
            self.x = x
    """
    assert codes(src) == []


# --- TSG652: deprecated generator API ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fit_generator", "evaluate_generator", "predict_generator"])
def test_deprecated_generator_methods(method: str) -> None:
    """fit_generator/evaluate_generator/predict_generator calls give TSG652."""
    assert codes(f"model.{method}(data)") == ["TSG652"]


def test_fit_is_not_deprecated() -> None:
    """fit/evaluate/predict are fine."""
    assert codes("model.fit(data)\nmodel.evaluate(data)\nmodel.predict(data)") == []


# --- TSG851: main guard ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("import multiprocessing\np = multiprocessing.Pool(2)", ["TSG851"]),
        (
            "from concurrent.futures import ProcessPoolExecutor\nex = ProcessPoolExecutor()",
            ["TSG851"],
        ),
        (
            "import multiprocessing as mp\nctx = mp.get_context('spawn')\nmp.get_context('spawn').Process(target=f).start()",
            ["TSG851"],
        ),
        ("model.fit(ds, workers=2, use_multiprocessing=True)", ["TSG851"]),
        ("import multiprocessing\nif __name__ == '__main__':\n    multiprocessing.Pool(2)", []),
        (
            "import multiprocessing\ndef main():\n    multiprocessing.Pool(2)\nif __name__ == '__main__':\n    main()",
            [],
        ),
        ("import multiprocessing\ndef main():\n    multiprocessing.Pool(2)\nmain()", ["TSG851"]),
        ("model.fit(ds, workers=2)", []),
    ],
)
def test_main_guard(src: str, expected: list[str]) -> None:
    """Starting process workers at import time without the __main__ guard gives TSG851."""
    assert codes(src) == expected


# --- suppressions, selection, locations -------------------------------------------------------


def test_inline_suppression_by_code() -> None:
    """`# threadsafe-gen: ignore[TSG652]` on the reported line suppresses that code only."""
    src = "model.fit_generator(g)  # threadsafe-gen: ignore[TSG652]\nmodel.fit_generator(g)\n"
    result = lint_source(src)
    assert [(f.code, f.location.line if f.location else 0) for f in result.findings] == [
        ("TSG652", 2)
    ]


def test_bare_suppression_and_lists() -> None:
    """The bare form suppresses everything; a list names several codes."""
    src = "model.fit_generator(g)  # threadsafe-gen: ignore\nmodel.fit_generator(g)  # threadsafe-gen: ignore[TSG351, TSG652]\n"
    assert codes(src) == []


def test_unused_suppressions_are_reported_on_request() -> None:
    """Unused and unknown-code suppressions become TSG653 only with report_unused_ignores."""
    src = "x = 1  # threadsafe-gen: ignore[TSG999]\nmodel.fit_generator(g)  # threadsafe-gen: ignore[TSG652,TSG351]\n"
    assert codes(src) == []
    result = lint_source(src, report_unused_ignores=True)
    messages = [
        (f.location.line if f.location else 0, f.message.split(" (TSG653")[0])
        for f in result.findings
    ]
    assert messages == [
        (
            1,
            "`# threadsafe-gen: ignore[TSG999]` suppresses nothing on line 1; TSG999 is not a registered code.",
        ),
        (2, "`# threadsafe-gen: ignore[TSG351]` suppresses nothing on line 2."),
    ]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("TSG351", {"TSG351"}),
        ("TSG3", {"TSG351", "TSG352", "TSG353"}),
        ("thread-safety", {"TSG351", "TSG352", "TSG353"}),
        ("next-without-lock", {"TSG351"}),
    ],
)
def test_select_codes(selector: str, expected: set[str]) -> None:
    """Selectors are codes, prefixes, categories or check names."""
    assert set(select_codes([selector])) == expected


def test_unknown_selector_is_a_clear_error() -> None:
    """A selector that matches nothing names itself and the valid kinds."""
    with pytest.raises(ValueError, match=r"select 'TSG999' matches no lint code"):
        select_codes(["TSG999"])


def test_select_and_ignore_filter_findings() -> None:
    """--select/--ignore keep and drop codes."""
    src = getitem("self.last = 1\nreturn 0")
    assert codes(src) == ["TSG352", "TSG353"]
    assert codes(src, select=["TSG353"]) == ["TSG353"]
    assert codes(src, ignore=["TSG35"]) == []


def test_location_is_relative_and_one_based(tmp_path: Path) -> None:
    """Locations are relative to the root with '/' and 1-based line and column."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "train.py").write_text("x = 1\n  # c\nif x:\n    model.fit_generator(g)\n")
    (finding,) = lint_paths([tmp_path], root=tmp_path).findings
    loc = finding.location
    assert loc is not None
    assert (loc.file, loc.line, loc.column, loc.end_line, loc.end_column) == (
        "sub/train.py",
        4,
        5,
        4,
        27,
    )


def test_syntax_error_is_one_finding_and_the_run_continues(tmp_path: Path) -> None:
    """A file that does not parse gives one TSG852 and the other files are still linted."""
    (tmp_path / "bad.py").write_text("def load(i)\n    return i\n")
    (tmp_path / "good.py").write_text("model.fit_generator(g)\n")
    result = lint_paths([tmp_path], root=tmp_path)
    assert [(f.code, f.location.file if f.location else "") for f in result.findings] == [
        ("TSG852", "bad.py"),
        ("TSG652", "good.py"),
    ]


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    """A path that does not exist raises FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match=r"nope\.py"):
        lint_paths([tmp_path / "nope.py"])


def test_folders_skip_virtualenvs_and_hidden_dirs(tmp_path: Path) -> None:
    """.venv, hidden folders and __pycache__ are skipped while expanding a folder."""
    for d in (".venv", ".hidden", "__pycache__", "src"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "m.py").write_text("model.fit_generator(g)\n")
    result = lint_paths([tmp_path], root=tmp_path)
    assert [f.location.file for f in result.findings if f.location] == ["src/m.py"]


def test_per_file_ignores_and_exclude(tmp_path: Path) -> None:
    """per_file_ignores globs drop codes for matching files; exclude skips files."""
    for name in ("a.py", "b_test.py", "c.py"):
        (tmp_path / name).write_text("model.fit_generator(g)\n")
    result = lint_paths(
        [tmp_path], root=tmp_path, per_file_ignores={"*_test.py": ["TSG652"]}, exclude=["c.py"]
    )
    assert [f.location.file for f in result.findings if f.location] == ["a.py"]


# --- cross-file resolution and the fixture tree ------------------------------------------------


def test_cross_file_subclass_is_a_loader() -> None:
    """A subclass of a project base loader in another file is checked; plain classes are not."""
    result = lint_paths([CASES / "pkg"], root=CASES)
    assert [(f.code, f.path) for f in result.findings] == [("TSG151", "pkg.sub.Child.__init__")]


def test_script_without_guard_vs_guarded() -> None:
    """train_script.py (no guard) gives TSG851 on the call of train(); the guarded copy is clean."""
    result = lint_paths([CASES / "train_script.py", CASES / "guarded_script.py"], root=CASES)
    assert [(f.code, str(f.location)) for f in result.findings] == [
        ("TSG851", "train_script.py:23:1")
    ]


def test_parallel_and_serial_runs_agree(tmp_path: Path) -> None:
    """jobs=2 (worker processes) reports exactly what jobs=1 reports."""
    for i in range(70):
        (tmp_path / f"m{i}.py").write_text("model.fit_generator(g)\n" if i % 7 == 0 else "x = 1\n")
    serial = lint_paths([tmp_path], root=tmp_path, jobs=1)
    parallel = lint_paths([tmp_path], root=tmp_path, jobs=2)
    assert [f.to_dict() for f in serial.findings] == [f.to_dict() for f in parallel.findings]
    assert len(serial.findings) == 10


def test_lint_never_imports_user_code(tmp_path: Path) -> None:
    """Linting a module that would exit on import runs nothing (checked in a fresh process)."""
    (tmp_path / "boom.py").write_text("import sys\nsys.exit(3)\nmodel.fit_generator(g)\n")
    code = f"from threadsafe_gen._lint import lint_paths; print(len(lint_paths([{str(tmp_path)!r}]).findings))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "1"


def test_lint_of_this_package_is_clean() -> None:
    """threadsafe_gen's own source has no findings (dogfooding)."""
    root = Path(__file__).parents[1]
    result = lint_paths([root / "threadsafe_gen"], root=root)
    assert [str(f) for f in result.findings] == []


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.parametrize("package", ["keras", "tf_keras"])
def test_whole_package_lints_without_crashing(package: str) -> None:
    """The installed keras and tf_keras packages lint without a crash or a syntax-error finding."""
    import importlib.util

    spec = importlib.util.find_spec(package)  # locates the folder without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed in this environment")
    folder = Path(next(iter(spec.submodule_search_locations)))
    result = lint_paths([folder], root=folder.parent)
    assert result.files > 500
    assert "TSG852" not in result.codes()
    # Every finding is about a data-loading class or function, never a crash of the linter.
    assert all(f.location is not None for f in result.findings)


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


def test_reused_buffer_returned_from_getitem() -> None:
    """Filling self.buf in place and returning it gives TSG352; a cache that is not returned does not."""
    assert codes(getitem("self.buf[:] = idx\nreturn self.buf, self.buf[:, 1]")) == ["TSG352"]
    assert codes(getitem("self.cache[idx] = idx\nreturn idx")) == []


def test_custom_pickling_exempts_tsg151() -> None:
    """A class with __getstate__/__reduce__ may hold a lock: it controls what is pickled."""
    src = LOADER.format(value="threading.Lock()").replace(
        "    def __len__(self):",
        "    def __getstate__(self):\n        return {}\n    def __len__(self):",
    )
    assert codes(src) == []


@pytest.mark.parametrize(
    "src",
    [
        # a cache: it writes items, so it is a container, not a loader
        "import threading\nclass LRU:\n    def __init__(self):\n        self.lock = threading.Lock()\n"
        "    def __len__(self):\n        return 0\n    def __getitem__(self, k):\n        with self.lock:\n"
        "            return k\n    def __setitem__(self, k, v):\n        pass\n",
        # a Mapping subclass
        "import threading\nfrom collections.abc import Mapping\nclass Env(Mapping):\n"
        "    def __init__(self):\n        self.local = threading.local()\n    def __len__(self):\n"
        "        return 0\n    def __getitem__(self, k):\n        return k\n    def __iter__(self):\n"
        "        return iter(())\n",
        # a dict subclass
        "import threading\nclass D(dict):\n    def __init__(self):\n        self.lock = threading.Lock()\n"
        "    def __len__(self):\n        return 0\n    def __getitem__(self, k):\n        return k\n",
    ],
)
def test_containers_are_not_duck_typed_loaders(src: str) -> None:
    """Caches, mappings and dict subclasses have __getitem__/__len__ but are not loaders."""
    assert codes(src) == []


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


def test_underscore_index_is_deliberately_unused() -> None:
    """An index argument named `_...` is ignored on purpose: no TSG353."""
    assert codes(getitem("return self.x[0]").replace("(self, idx)", "(self, _idx)")) == []


def test_parallel_run_from_a_threaded_process(tmp_path: Path) -> None:
    """With other threads alive, workers are spawned (no fork of a threaded process); same result."""
    import threading

    for i in range(66):
        (tmp_path / f"m{i}.py").write_text("model.fit_generator(g)\n" if i % 11 == 0 else "x = 1\n")
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, daemon=True)
    helper.start()
    try:
        result = lint_paths([tmp_path], root=tmp_path, jobs=2)
    finally:
        stop.set()
        helper.join()
    assert [f.location.file for f in result.findings if f.location] == [
        f"m{i}.py" for i in (0, 11, 22, 33, 44, 55)
    ]


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


def test_examples_lint_clean_except_the_problem_catalog() -> None:
    """examples/ lints without a crash, and only the deliberately broken loaders have findings."""
    root = Path(__file__).parents[1]
    if not (root / "examples").is_dir():
        pytest.skip("no examples/ folder")
    result = lint_paths([root / "examples"], root=root)
    files = {f.location.file for f in result.findings if f.location}
    assert {f for f in files if "problem" not in f} == set()
    assert "TSG852" not in result.codes()


# --- Jupyter notebooks --------------------------------------------------------------------------


def write_notebook(path: Path, cells: list[str], markdown_first: bool = True) -> None:
    """Write an nbformat-4 notebook with these code cells (and a markdown cell first)."""
    import json

    nb_cells: list[dict[str, object]] = []
    if markdown_first:
        nb_cells.append({"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]})
    for src in cells:
        nb_cells.append(
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": src.splitlines(keepends=True),
            }
        )
    path.write_text(
        json.dumps({"cells": nb_cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )


def test_notebook_findings_point_at_cell_and_line(tmp_path: Path) -> None:
    """Code cells are linted as one module (magics skipped); findings carry cell and line in cell."""
    write_notebook(
        tmp_path / "train.ipynb",
        [
            "%matplotlib inline\nimport threading\n!pip list\nimport keras",
            "class Loader(keras.utils.PyDataset):\n    def __init__(self, **kwargs):\n"
            "        super().__init__(**kwargs)\n        self.lock = threading.Lock()",
            "%%bash\necho this is not python",
            "def gen():\n    yield 1\nmodel.fit(gen(), workers=4, use_multiprocessing=True)",
        ],
    )
    result = lint_paths([tmp_path], root=tmp_path)
    found = [
        (f.code, f.details.get("cell"), f.location.line if f.location else 0)
        for f in result.findings
    ]
    # No TSG851: a notebook runs in a kernel, there is no __main__ guard to add.
    assert found == [("TSG151", 3, 4), ("TSG451", 5, 3)]


def test_notebook_text_output_names_the_cell(tmp_path: Path) -> None:
    """Text output shows notebook findings as file:cell N:line:col, as ruff does."""
    from threadsafe_gen._output import RunInfo, render

    write_notebook(tmp_path / "nb.ipynb", ["model.fit_generator(g)"], markdown_first=False)
    result = lint_paths([tmp_path / "nb.ipynb"], root=tmp_path)
    text = render(result.findings, RunInfo("lint", files=1), "text")
    assert text.startswith("nb.ipynb:cell 1:1:1: TSG652 [warning]")


def test_notebook_suppression_and_bad_json(tmp_path: Path) -> None:
    """Suppressions work per cell line; a file that is not JSON is one TSG852."""
    write_notebook(
        tmp_path / "a.ipynb", ["x = 1\nmodel.fit_generator(g)  # threadsafe-gen: ignore[TSG652]"]
    )
    (tmp_path / "b.ipynb").write_text("{not json")
    result = lint_paths([tmp_path], root=tmp_path)
    assert [(f.code, f.location.file if f.location else "") for f in result.findings] == [
        ("TSG852", "b.ipynb")
    ]
