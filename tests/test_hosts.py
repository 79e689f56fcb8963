"""Hosts: detection (threadsafe_gen/_hosts.py), hosts x local workers in WorkerInfo and shard()
(threadsafe_gen/_sharding.py), the adapters' host part, and check_loader(hosts=N) (TSG403,
threadsafe_gen/_probes/hosts.py).

The real multi-process runs (tf.distribute, torch.distributed, JAX) are in test_multihost.py.
"""

from __future__ import annotations

import functools
import json
import pickle
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import pytest

import threadsafe_gen as tsg
from threadsafe_gen import HostInfo, WorkerInfo, check_loader, host_info, set_hosts
from threadsafe_gen._check import CheckOptions
from threadsafe_gen._hosts import hosts_from_input_context, use_hosts
from threadsafe_gen._parallel import parallel_iter
from threadsafe_gen._sharding import use_worker_info
from threadsafe_gen.keras import guard

FRAMEWORK_ENV = (
    "THREADSAFE_GEN_HOST_INDEX",
    "THREADSAFE_GEN_HOST_COUNT",
    "TF_CONFIG",
    "KERAS_DISTRIBUTION_PROCESS_ID",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "RANK",
    "WORLD_SIZE",
    "MASTER_ADDR",
)


@pytest.fixture(autouse=True)
def _clean_hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts on one host: no setting, no launcher variables; set_hosts undone."""
    for name in FRAMEWORK_ENV:
        monkeypatch.delenv(name, raising=False)
    set_hosts(None)
    yield
    set_hosts(None)


def _tf_config(task: str, index: int, **cluster: int) -> str:
    spec = {kind: [f"127.0.0.1:{2000 + i}" for i in range(n)] for kind, n in cluster.items()}
    return json.dumps({"cluster": spec, "task": {"type": task, "index": index}})


# --- detection ------------------------------------------------------------------------------


def test_single_host_when_nothing_is_detected() -> None:
    assert host_info() == HostInfo(0, 1, "single host")
    assert tsg.worker_info() is None
    assert list(tsg.shard(range(4))) == [0, 1, 2, 3]


def test_detection_imports_no_framework() -> None:
    """host_info() and shard() import neither TensorFlow, torch nor JAX (fresh interpreter)."""
    code = (
        "import os, sys, json\n"
        "os.environ['TF_CONFIG'] = json.dumps({'cluster': {'worker': ['a:1', 'b:2']},"
        " 'task': {'type': 'worker', 'index': 1}})\n"
        "import threadsafe_gen as tsg\n"
        "print(tsg.host_info().index, list(tsg.shard(range(4))),"
        " [m for m in ('tensorflow', 'torch', 'jax', 'keras') if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split("\n")[0] == "1 [1, 3] []"


def test_set_hosts_sets_and_clears() -> None:
    set_hosts(1, 3)
    assert host_info() == HostInfo(1, 3, "set_hosts()")
    set_hosts(None)
    assert host_info().count == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((1,), ValueError),
        ((2, 2), ValueError),
        ((-1, 2), ValueError),
        ((0, 0), ValueError),
        ((True, 2), TypeError),
        ((0, 2.0), TypeError),
    ],
)
def test_set_hosts_rejects_bad_values(args: tuple[Any, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        set_hosts(*args)
    assert host_info().count == 1


def test_our_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADSAFE_GEN_HOST_INDEX", "2")
    monkeypatch.setenv("THREADSAFE_GEN_HOST_COUNT", "4")
    assert (host_info().index, host_info().count) == (2, 4)
    monkeypatch.setenv("THREADSAFE_GEN_HOST_INDEX", "4")
    with pytest.raises(ValueError, match="THREADSAFE_GEN_HOST_INDEX='4'"):
        host_info()
    monkeypatch.delenv("THREADSAFE_GEN_HOST_COUNT")
    with pytest.raises(ValueError, match="set both"):
        host_info()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        # The cases checked against TensorFlow's own multi_worker_util (id_in_cluster,
        # worker_count), which is what InputContext.input_pipeline_id / num_input_pipelines give.
        (_tf_config("worker", 1, worker=2), (1, 2)),
        (_tf_config("chief", 0, chief=1, worker=2), (0, 3)),
        (_tf_config("worker", 0, chief=1, worker=2), (1, 3)),
        (_tf_config("worker", 1, chief=1, worker=2), (2, 3)),
        (_tf_config("ps", 0, chief=1, worker=1, ps=1), (0, 1)),  # no training input
        (_tf_config("evaluator", 0, chief=1, worker=1), (0, 1)),
        ("{not json", (0, 1)),  # TensorFlow reports a bad TF_CONFIG itself
    ],
)
def test_tf_config(monkeypatch: pytest.MonkeyPatch, config: str, expected: tuple[int, int]) -> None:
    monkeypatch.setenv("TF_CONFIG", config)
    info = host_info()
    assert (info.index, info.count) == expected
    assert info.source == ("TF_CONFIG" if expected[1] > 1 else "single host")


def test_keras_distribution_and_torchrun_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert host_info().count == 1  # RANK alone is too common a name: torchrun sets MASTER_ADDR
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    assert host_info() == HostInfo(1, 2, "RANK/WORLD_SIZE (torchrun)")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "0")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "3")
    assert (host_info().index, host_info().count) == (0, 3)


def _fake_torch_distributed(rank: int, world: int, initialized: bool) -> types.ModuleType:
    dist = types.ModuleType("torch.distributed")
    dist.is_available = lambda: True  # type: ignore[attr-defined]
    dist.is_initialized = lambda: initialized  # type: ignore[attr-defined]
    dist.get_rank = lambda: rank  # type: ignore[attr-defined]
    dist.get_world_size = lambda: world  # type: ignore[attr-defined]
    return dist


def test_torch_distributed_only_when_initialised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", _tf_config("worker", 0, worker=3))
    fake = _fake_torch_distributed(1, 2, initialized=False)
    monkeypatch.setitem(sys.modules, "torch.distributed", fake)
    assert host_info().source == "TF_CONFIG"
    monkeypatch.setitem(sys.modules, "torch.distributed", _fake_torch_distributed(1, 2, True))
    assert host_info() == HostInfo(1, 2, "torch.distributed")
    set_hosts(0, 2)  # explicit beats everything
    assert host_info().source == "set_hosts()"


def test_jax_only_when_its_distributed_client_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    """JAX is read from jax.distributed's state, never by calling process_index(), which would
    start its backend and make a later jax.distributed.initialize() fail."""
    jax = types.ModuleType("jax")

    def process_index() -> int:
        raise AssertionError("process_index() must not be called")

    jax.process_index = jax.process_count = process_index  # type: ignore[attr-defined]
    state = types.SimpleNamespace(client=None, process_id=1, num_processes=2)
    distributed = types.ModuleType("jax._src.distributed")
    distributed.global_state = state  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "jax", jax)
    monkeypatch.setitem(sys.modules, "jax._src.distributed", distributed)
    assert host_info().count == 1
    state.client = object()
    assert host_info() == HostInfo(1, 2, "jax.distributed")


def test_use_hosts_is_per_thread() -> None:
    seen: list[HostInfo] = []
    with use_hosts(HostInfo(1, 2, "test")):
        thread = threading.Thread(target=lambda: seen.append(host_info()))
        thread.start()
        thread.join()
        assert host_info().index == 1
    assert seen == [HostInfo(0, 1, "single host")]
    assert host_info().count == 1


def test_hosts_from_input_context() -> None:
    context = types.SimpleNamespace(input_pipeline_id=1, num_input_pipelines=2)
    assert hosts_from_input_context(context) == HostInfo(1, 2, "tf.distribute.InputContext")
    with pytest.raises(TypeError, match="InputContext"):
        hosts_from_input_context(object())


# --- WorkerInfo and shard() -----------------------------------------------------------------


def test_worker_info_takes_the_host_when_made() -> None:
    set_hosts(1, 2)
    info = WorkerInfo(id=1, num_workers=3, seed=0)
    assert (info.host, info.num_hosts, info.shard_id, info.num_shards) == (1, 2, 3, 6)
    set_hosts(None)
    assert pickle.loads(pickle.dumps(info)) == info  # travels to spawned workers as it is
    with pytest.raises(ValueError, match="host"):
        WorkerInfo(id=0, num_workers=1, seed=0, host=2, num_hosts=2)


def test_worker_info_outside_workers_is_the_host() -> None:
    set_hosts(1, 2)
    info = tsg.worker_info()
    assert info is not None
    assert (info.id, info.num_workers, info.host, info.num_hosts) == (0, 1, 1, 2)
    assert list(tsg.shard(range(7))) == [1, 3, 5]
    assert list(tsg.shard(iter(range(7)))) == [1, 3, 5]


@pytest.mark.parametrize("workers_per_host", [(2, 2), (2, 3), (1, 4)])
def test_shard_splits_hosts_then_local_workers(workers_per_host: tuple[int, int]) -> None:
    """Every item belongs to one (host, worker) pair, whatever each host's number of workers;
    a host's part is every num_hosts-th item."""
    items = list(range(50))
    taken: list[int] = []
    for host, workers in enumerate(workers_per_host):
        part: list[int] = []
        for w in range(workers):
            info = WorkerInfo(id=w, num_workers=workers, seed=0, host=host, num_hosts=2)
            with use_worker_info(info):
                part += list(tsg.shard(items))
        assert sorted(part) == items[host::2]
        taken += part
    assert sorted(taken) == items


def test_one_host_info_is_completed_by_detection() -> None:
    """An info that says one host (made before the process group, or by a framework's own
    worker) gets the host this process detects."""
    info = WorkerInfo(id=1, num_workers=2, seed=0, host=0, num_hosts=1)
    set_hosts(1, 2)
    with use_worker_info(info):
        assert list(tsg.shard(range(8))) == [3, 7]


@tsg.threadsafe_generator
def _numbers(n: int) -> Iterator[int]:
    yield from range(n)


@tsg.threadsafe_generator
def _self_sharded(n: int) -> Iterator[tuple[int, int, int]]:
    for i in tsg.shard(range(n)):
        info = tsg.worker_info()  # None when to_tf_dataset peeks at the first item
        yield (i, -1, -1) if info is None else (i, info.host, info.id)


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_parallel_workers_split_by_host(use_multiprocessing: bool) -> None:
    """Auto-sharded and self-sharded calls in threads or forked workers: each host gets its
    part, every local worker works, every item once across hosts."""
    auto: list[int] = []
    rows: list[tuple[int, int, int]] = []
    for host in range(2):
        set_hosts(host, 2)
        kw: dict[str, Any] = {"workers": 2, "use_multiprocessing": use_multiprocessing}
        if use_multiprocessing:
            kw["start_method"] = "fork"
        with parallel_iter(_numbers(20), **kw) as it:
            part = sorted(it)
        assert part == list(range(host, 20, 2))
        auto += part
        with parallel_iter(_self_sharded(20), **kw) as it:
            rows += list(it)
    assert sorted(auto) == list(range(20))
    assert sorted(i for i, _, _ in rows) == list(range(20))
    assert {(h, w) for _, h, w in rows} == {(0, 0), (0, 1), (1, 0), (1, 1)}


@pytest.mark.slow
def test_spawned_workers_carry_the_host_of_the_parent() -> None:
    """A spawned worker cannot see the parent's set_hosts() (or torch.distributed): its
    WorkerInfo, made in the parent, carries the host."""
    with use_hosts(HostInfo(1, 2, "test")):
        it = parallel_iter(
            _self_sharded(12), workers=2, use_multiprocessing=True, start_method="spawn"
        )
    with it:
        rows = list(it)
    assert sorted(i for i, _, _ in rows) == [1, 3, 5, 7, 9, 11]
    assert {(h, w) for _, h, w in rows} == {(1, 0), (1, 1)}


# --- the guard ------------------------------------------------------------------------------


class _Rows:
    def __init__(self, n: int = 10) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return np.full((2, 1), i, np.float32), np.zeros((2, 1), np.float32)


@guard(shard_hosts=True)
class _HostRows(_Rows):
    pass


def test_guard_shard_hosts_serves_the_host_part() -> None:
    ds = _HostRows(10)
    assert len(ds) == 10
    set_hosts(1, 3)
    assert len(ds) == 3
    assert [int(ds[i][0][0, 0]) for i in range(len(ds))] == [1, 4, 7]
    assert int(ds[-1][0][0, 0]) == 7
    with pytest.raises(IndexError, match="host 1 of 3 serves 3 of the 10"):
        ds[3]
    assert [int(b[0][0, 0]) for b in ds] == [1, 4, 7]  # type: ignore[attr-defined]  # __getitem__ iteration protocol
    # A copy in a worker process uses the host its dataset was last served with.
    copy = pickle.loads(pickle.dumps(ds))
    copy.__dict__["_tsg_owner_pid"] = -1  # as if unpickled in another process
    set_hosts(None)
    assert len(copy) == 3
    assert len(ds) == 10


def test_guard_without_shard_hosts_ignores_hosts() -> None:
    ds = guard(type("PlainRows", (_Rows,), {}))(10)
    set_hosts(1, 2)
    assert len(ds) == 10
    assert int(ds[0][0][0, 0]) == 0


# --- check_loader(hosts=N) ------------------------------------------------------------------


def _plain() -> Iterator[tuple[Any, Any]]:
    for i in range(32):
        yield np.full((4, 2), i, np.float32), np.zeros(4, np.float32)


def _by_host() -> Iterator[tuple[Any, Any]]:
    for i in tsg.shard(range(32)):
        yield np.full((4, 2), i, np.float32), np.zeros(4, np.float32)


class _IgnoresHost(_Rows):
    pass


def test_check_reports_a_generator_every_host_reads() -> None:
    report = check_loader(_plain, hosts=2, probes=["hosts"])
    (finding,) = report.findings
    assert (finding.code, finding.severity.value, finding.path) == ("TSG403", "error", "loader")
    assert finding.details == {"hosts": 2, "rows": 32, "shared_rows": 32, "times_read": {"2": 32}}
    assert "each of 32 items would be read 2 times across the hosts" in finding.message
    assert "2x the loading work" in finding.message
    assert "threadsafe_gen.shard" in finding.hint


def test_check_fix_with_shard_is_clean() -> None:
    report = check_loader(_by_host, hosts=2, probes=["hosts"])
    assert report.findings == []
    assert report.probes[-1].note == "simulated 2 hosts, up to 64 batches each"


def test_check_reports_a_sequence_that_ignores_the_host_and_the_guard_fixes_it() -> None:
    (finding,) = check_loader(_IgnoresHost(), hosts=3, probes=["hosts"]).findings
    assert finding.details["times_read"] == {"3": 10}
    fixed = guard(shard_hosts=True)(type("Fixed", (_Rows,), {}))
    assert check_loader(fixed(), hosts=3, probes=["hosts"]).findings == []


def test_check_threadsafe_generator_call_is_simulated_per_host() -> None:
    """An unstarted @threadsafe_generator call: each simulated host starts a fresh copy."""
    bad = check_loader(tsg.threadsafe_generator(_plain)(), hosts=2, probes=["hosts"])
    good = check_loader(tsg.threadsafe_generator(_by_host)(), hosts=2, probes=["hosts"])
    assert [f.code for f in bad.findings] == ["TSG403"]
    assert good.findings == []


def test_check_same_global_randomness_per_host() -> None:
    """Augmentation with the global RNG: each host's pass starts from the same state, so the
    same items give the same rows (found); the caller's RNG state is restored."""

    class Augmented(_Rows):
        def __getitem__(self, i: int) -> tuple[Any, Any]:
            x, y = super().__getitem__(i)
            return x + np.random.normal(size=x.shape), y

    state = cast(tuple[Any, ...], np.random.get_state())
    (finding,) = check_loader(Augmented(), hosts=2, probes=["hosts"]).findings
    assert finding.code == "TSG403"
    assert np.array_equal(cast(tuple[Any, ...], np.random.get_state())[1], state[1])


def test_check_fresh_randomness_is_a_note() -> None:
    class OwnRng(_Rows):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng()

        def __getitem__(self, i: int) -> tuple[Any, Any]:
            return self.rng.normal(size=(2, 1)), np.zeros((2, 1))

    report = check_loader(OwnRng(), hosts=2, probes=["hosts"])
    assert report.findings == []
    assert any("could not be compared" in n for n in report.notes)


def test_check_without_hosts_does_not_simulate() -> None:
    report = check_loader(_plain, probes=["hosts"])
    assert report.findings == []
    assert report.probes[-1].note == "not asked: pass hosts=N to simulate N hosts"


def test_check_hosts_option_is_validated() -> None:
    with pytest.raises(ValueError, match="hosts >= 1"):
        CheckOptions(hosts=0)
    with pytest.raises(TypeError, match="hosts"):
        check_loader(_plain, hosts="2")  # type: ignore[arg-type]


def test_check_single_iterator_is_a_note() -> None:
    report = check_loader(_plain(), hosts=2, probes=["hosts"])  # a generator object
    assert report.findings == []
    assert any("single iterator" in n for n in report.notes)


# --- the Keras adapters ---------------------------------------------------------------------


def _policy(ds: Any) -> Any:
    return ds.options().experimental_distribute.auto_shard_policy


@pytest.mark.keras
def test_to_tf_dataset_serves_the_host_part_with_auto_sharding_off() -> None:
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from threadsafe_gen.keras import to_tf_dataset

    off = tf.data.experimental.AutoShardPolicy.OFF
    single = to_tf_dataset(_self_sharded(8), workers=2)
    assert _policy(single) != off  # one host: tf.data's own policy is left alone
    parts = []
    for host in range(2):
        set_hosts(host, 2)
        ds = to_tf_dataset(_self_sharded(8), workers=2)
        rows = [tuple(int(v) for v in r) for r in ds.as_numpy_iterator()]
        assert _policy(ds) == off
        assert {(h, w) for _, h, w in rows} == {(host, 0), (host, 1)}
        parts.append(sorted(i for i, _, _ in rows))
    assert parts == [[0, 2, 4, 6], [1, 3, 5, 7]]


@pytest.mark.keras
def test_to_tf_dataset_input_context_wins() -> None:
    pytest.importorskip("tensorflow")
    from threadsafe_gen.keras import to_tf_dataset

    set_hosts(0, 2)
    context = types.SimpleNamespace(input_pipeline_id=2, num_input_pipelines=3)
    ds = to_tf_dataset(_numbers(9), workers=2, input_context=context)
    assert sorted(int(v) for v in ds.as_numpy_iterator()) == [2, 5, 8]
    with pytest.raises(TypeError, match="to_tf_dataset\\(\\) got a bad input_context"):
        to_tf_dataset(_numbers(9), input_context=3)


@pytest.mark.keras
def test_legacy_fit_input_sequence_serves_the_host_part() -> None:
    pytest.importorskip("tensorflow")
    from threadsafe_gen.keras import legacy_fit_input

    set_hosts(1, 3)
    ds = legacy_fit_input(_Rows(10), workers=2)
    assert int(ds.cardinality()) == 3
    assert [int(x[0, 0]) for x, _ in ds.as_numpy_iterator()] == [1, 4, 7]
    set_hosts(1, 12)
    with pytest.raises(ValueError, match="host 1 has no batch"):
        legacy_fit_input(_Rows(1), workers=2)


@pytest.mark.keras
def test_generator_dataset_serves_the_host_part() -> None:
    pytest.importorskip("keras")
    from threadsafe_gen.keras import GeneratorDataset

    set_hosts(1, 2)
    batches = functools.partial(_batches, 12)
    with GeneratorDataset(batches, workers=2) as ds:
        ds.on_epoch_begin()
        got = sorted(int(ds[i][0][0, 0]) for i in range(len(ds)))
        ds.on_epoch_end()
    assert got == [1, 3, 5, 7, 9, 11]


def _batches(n: int) -> Iterator[tuple[Any, Any]]:
    for i in tsg.shard(range(n)):
        yield np.full((2, 1), i, np.float32), np.zeros((2, 1), np.float32)
