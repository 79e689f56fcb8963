"""The class index (threadsafe_gen/_lint/classes.py): which classes are loaders, across files."""

from __future__ import annotations

import importlib
import pkgutil
import typing
from pathlib import Path

import pytest
from lint_cases.support import CASES, codes

import threadsafe_gen._lint
from threadsafe_gen._lint import lint_paths
from threadsafe_gen._lint.classes import Applies


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


def test_cross_file_subclass_is_a_loader() -> None:
    """A subclass of a project base loader in another file is checked; plain classes are not."""
    result = lint_paths([CASES / "pkg"], root=CASES)
    assert [(f.code, f.path) for f in result.findings] == [("TSG151", "pkg.sub.Child.__init__")]


def test_condition_names_only_the_public_lock() -> None:
    """threadsafe_gen.Condition is the lock; a finding's condition is called Applies."""
    modules = pkgutil.walk_packages(threadsafe_gen._lint.__path__, "threadsafe_gen._lint.")
    assert [m.name for m in modules if hasattr(importlib.import_module(m.name), "Condition")] == []
    assert typing.get_args(Applies) == (
        "always",
        "loader",
        "pydataset",
        "sequence",
        "generator",
        "unlocked-generator",
        "shared",
    )
