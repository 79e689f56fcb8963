"""Framework rules (threadsafe_gen/_lint/rules/frameworks.py): TSG152, TSG452, TSG552, and the
fork rule's TSG251 on a torch Dataset. The linter never imports torch or grain: these run
without them."""

from __future__ import annotations

import textwrap

import pytest
from lint_cases.support import codes

from threadsafe_gen._lint import lint_source


def _findings(src: str) -> list[tuple[str, str]]:
    result = lint_source(textwrap.dedent(src), "snippet.py")
    return sorted((f.code, str(f.severity)) for f in result.findings)


# --- TSG452: IterableDataset without worker sharding ---------------------------------------------

UNSHARDED = """
import torch.utils.data as tud

class Lines(tud.IterableDataset):
    def __init__(self, path):
        self.path = path
    def __iter__(self):
{body}

loader = tud.DataLoader(Lines("data.txt"), batch_size=32, num_workers={workers})
"""


def _unsharded(body: str, workers: str = "4") -> str:
    return UNSHARDED.format(body=textwrap.indent(textwrap.dedent(body), " " * 8), workers=workers)


def test_iterable_dataset_ignoring_workers() -> None:
    """__iter__ that never asks which worker runs it, with num_workers=4: TSG452 (error)."""
    src = _unsharded("""
        with open(self.path) as f:
            yield from f
    """)
    assert _findings(src) == [("TSG452", "error")]


@pytest.mark.parametrize(
    "body",
    [
        "with open(self.path) as f:\n    yield from threadsafe_gen.shard(f)",
        "info = tud.get_worker_info()\nyield from range(info.id, 10, info.num_workers)",
        "yield from range(10)[get_worker_info().id::2]",
        "yield from self._mine()",
    ],
    ids=["shard", "get_worker_info", "unresolved-name", "helper-method"],
)
def test_iterable_dataset_that_shards(body: str) -> None:
    """threadsafe_gen.shard(), get_worker_info() (also through a helper method): clean."""
    src = "import threadsafe_gen\n" + _unsharded(body).replace(
        "    def __iter__(self):",
        "    def _mine(self):\n        return tud.get_worker_info()\n    def __iter__(self):",
    )
    assert codes(src) == []


@pytest.mark.parametrize(("workers", "expected"), [("0", []), ("1", []), ("n", ["TSG452"])])
def test_iterable_dataset_worker_count(workers: str, expected: list[str]) -> None:
    """0 or 1 worker: no copies; a count computed at run time: reported as a warning."""
    src = _unsharded("yield from range(10)", workers)
    assert codes(src) == expected
    if expected:
        assert _findings(src) == [("TSG452", "warning")]


def test_iterable_dataset_named_instance() -> None:
    """The dataset bound to a name first, then given to the DataLoader: still found."""
    src = """
    from torch.utils.data import DataLoader, IterableDataset
    class Stream(IterableDataset):
        def __iter__(self):
            yield from range(10)
    ds = Stream()
    loader = DataLoader(ds, num_workers=2)
    """
    assert codes(src) == ["TSG452"]


def test_iterable_dataset_threadsafe_generator_is_sharded() -> None:
    """A @threadsafe_generator called in __iter__ is auto-sharded in torch workers: clean."""
    src = """
    from torch.utils.data import DataLoader, IterableDataset
    from threadsafe_gen import threadsafe_generator

    @threadsafe_generator
    def rows(n):
        yield from range(n)

    class Stream(IterableDataset):
        def __iter__(self):
            return rows(10)

    loader = DataLoader(Stream(), num_workers=2)
    """
    assert codes(src) == []


def test_iterable_dataset_without_dataloader_here() -> None:
    """No DataLoader in the module (used elsewhere, maybe with 0 workers): not reported."""
    src = """
    import torch
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            yield from range(10)
    """
    assert codes(src) == []


# --- TSG152: lambdas for spawned workers ----------------------------------------------------------

DATALOADER = """
import multiprocessing
from torch.utils.data import DataLoader

def add(batch):
    return batch

def build(data):
    def local(batch):
        return batch
    return DataLoader(data, num_workers=2, {args})
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("multiprocessing_context='spawn', collate_fn=lambda b: b", [("TSG152", "error")]),
        (
            "multiprocessing_context=multiprocessing.get_context('forkserver'), worker_init_fn=lambda i: None",
            [("TSG152", "error")],
        ),
        ("multiprocessing_context='spawn', collate_fn=local", [("TSG152", "error")]),
        ("collate_fn=lambda b: b", [("TSG152", "warning")]),
        ("multiprocessing_context='fork', collate_fn=lambda b: b", []),
        ("multiprocessing_context='spawn', collate_fn=add", []),
    ],
    ids=["spawn-lambda", "forkserver-init", "spawn-local", "default-context", "fork", "module-def"],
)
def test_lambda_for_spawned_workers(args: str, expected: list[tuple[str, str]]) -> None:
    """Lambdas and local functions as collate_fn / worker_init_fn: error with spawn or
    forkserver, warning with the default context, nothing with fork or a module function."""
    assert _findings(DATALOADER.format(args=args)) == expected


def test_lambda_without_workers() -> None:
    """num_workers=0 pickles nothing: a lambda is fine."""
    src = """
    from torch.utils.data import DataLoader
    loader = DataLoader([1, 2], multiprocessing_context='spawn', collate_fn=lambda b: b)
    """
    assert codes(src) == []


def test_grain_lambda_is_fine() -> None:
    """Grain ships its pipeline with cloudpickle, which pickles lambdas: not reported."""
    src = """
    import grain
    ds = grain.MapDataset.range(8).map(lambda x: x + 1).to_iter_dataset().mp_prefetch()
    """
    assert codes(src) == []


# --- TSG552: global RNG in a Grain Map --------------------------------------------------------------

GRAIN_MAP = """
import random
import grain
import numpy as np

class Jitter({base}):
    def {method}(self, x{extra}):
        return x + {draw}
"""


@pytest.mark.parametrize(
    ("base", "method", "extra", "draw", "expected"),
    [
        ("grain.transforms.Map", "map", "", "np.random.normal()", ["TSG552"]),
        ("grain.python.MapTransform", "map", "", "random.random()", ["TSG552"]),
        ("grain.transforms.Map", "map", "", "np.random.default_rng().normal()", ["TSG552"]),
        ("grain.transforms.Map", "map", "", "np.random.default_rng(7).normal()", []),
        ("grain.transforms.RandomMap", "random_map", ", rng", "rng.normal()", []),
        ("grain.transforms.RandomMap", "random_map", ", rng", "np.random.normal()", []),
    ],
    ids=["numpy", "stdlib", "unseeded-generator", "seeded-generator", "random-map", "not-a-map"],
)
def test_grain_map_global_rng(
    base: str, method: str, extra: str, draw: str, expected: list[str]
) -> None:
    """np.random / random in a Grain Map's map(): TSG552 (info); a RandomMap is not a Map."""
    src = GRAIN_MAP.format(base=base, method=method, extra=extra, draw=draw)
    assert codes(src) == expected


def test_grain_names_resolved_through_imports() -> None:
    """`from grain.transforms import Map as M` is still a Grain Map."""
    src = """
    from grain.transforms import Map as M
    import numpy.random as npr
    class Jitter(M):
        def map(self, x):
            return x * npr.uniform()
    """
    assert codes(src) == ["TSG552"]


def test_a_class_named_map_elsewhere_is_not_grain() -> None:
    """Only Grain's Map is: a local class called Map is not."""
    src = """
    import numpy as np
    class Map:
        pass
    class Jitter(Map):
        def map(self, x):
            return x + np.random.normal()
    """
    assert codes(src) == []


# --- TSG251 on a torch Dataset (the fork rule) ------------------------------------------------------


def test_handle_in_torch_dataset_init() -> None:
    """A map-style torch Dataset is a loader (__getitem__ and __len__): TSG251 applies."""
    src = """
    import sqlite3
    from torch.utils.data import Dataset
    class Rows(Dataset):
        def __init__(self, path):
            self.conn = sqlite3.connect(path)
        def __len__(self):
            return 3
        def __getitem__(self, i):
            return self.conn.execute("select ?", (i,)).fetchone()
    """
    assert codes(src) == ["TSG251"]
