"""The spawn dry run: the loader sent to a spawned or forkserver child (TSG101, TSG102,
TSG104, TSG702).

Loaders live in tests/loaders/processes.py (spawned children import them by name); every test
checks that no child process is left behind.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import loaders.processes as L
import pytest
from helpers.probes import FORK, make_ctx, no_orphans, run
from helpers.probes import codes_of as by_code

from threadsafe_gen._probes.spawn import spawn_dry_run
from threadsafe_gen._registry import Severity

needs_fork = pytest.mark.skipif(not FORK, reason="fork start method not available")


@pytest.fixture(autouse=True)
def _no_orphans() -> Iterator[None]:
    """Every child process started by a probe is reaped by the time it returns."""
    with no_orphans():
        yield


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real SQLite file with 32 ids."""
    return L.make_db(str(tmp_path_factory.mktemp("db") / "rows.db"))


@pytest.mark.slow
def test_pure_loader_spawn_measures_start_cost_when_spawn_is_planned() -> None:
    """A pure loader under spawn: only TSG702 info, with the measured seconds per worker."""
    found = spawn_dry_run(make_ctx(L.PureSeq(), start_method="spawn", workers=4))
    assert [(f.code, f.severity) for f in found] == [("TSG702", Severity.INFO)]
    assert found[0].details["seconds_per_worker"] > 0
    assert found[0].details["workers"] == 4


@pytest.mark.slow
def test_state_dropped_by_getstate_fails_after_unpickling() -> None:
    """__getstate__ drops what __getitem__ needs: TSG104 error under spawn, with traceback."""
    found = spawn_dry_run(make_ctx(L.DropsStateSeq(), start_method="spawn"))
    codes = [(f.code, f.severity) for f in found if f.code != "TSG702"]
    assert codes == [("TSG104", Severity.ERROR)]
    assert found[0].details["exception_type"] == "AttributeError"
    assert "table" in found[0].details["traceback"]


@pytest.mark.slow
def test_state_rebuilt_in_setstate_serves_other_data() -> None:
    """__setstate__ reshuffles: the worker serves other data (TSG104), a warning under fork."""
    found = by_code(spawn_dry_run(make_ctx(L.ReshuffledOnUnpickleSeq())), "TSG104")
    assert [(f.path, f.severity) for f in found] == [("loader[0]", Severity.WARNING)]
    assert "different data" in found[0].message


@pytest.mark.slow
def test_local_class_cannot_be_sent_unless_the_pickling_probe_reported_it() -> None:
    """A class defined in a function: TSG102; skipped with a note after the pickling walk."""
    loader = L.make_local_class_loader()
    alone = spawn_dry_run(make_ctx(loader, start_method="spawn"))
    ctx = make_ctx(loader, start_method="spawn")
    ctx.state.unpicklable = ["reported by the pickling probe"]
    after_walk = spawn_dry_run(ctx)
    assert [(f.code, f.severity) for f in alone] == [("TSG102", Severity.ERROR)]
    assert after_walk == []
    assert any("pickling probe" in n for n in ctx.state.notes)


@pytest.mark.slow
def test_class_the_child_cannot_import_is_reported_from_the_child() -> None:
    """A class from a module that exists only in this process: TSG102 with the child's error."""
    module = types.ModuleType("tsg_ephemeral_loaders")
    exec(
        "import loaders.processes as L\nclass Ephemeral(L.PureSeq):\n    pass\n",
        module.__dict__,
    )
    sys.modules[module.__name__] = module
    try:
        found = spawn_dry_run(make_ctx(module.Ephemeral(), start_method="spawn"))
    finally:
        del sys.modules[module.__name__]
    assert [(f.code, f.severity) for f in found] == [("TSG102", Severity.ERROR)]
    assert "ModuleNotFoundError" in found[0].details["exception_type"]


@pytest.mark.slow
def test_per_process_connection_passes_spawn(db: str) -> None:
    """per_process drops the connection when pickled; the spawned worker opens its own."""
    loader = L.PerProcessSqliteSeq(db)
    _ = loader[0]
    found = spawn_dry_run(make_ctx(loader, start_method="spawn"))
    assert [f.code for f in found if f.code != "TSG702"] == []


@pytest.mark.slow
@needs_fork
def test_spawn_does_not_repeat_a_crash_the_fork_run_reported() -> None:
    """One TSG821 for a loader that dies in every worker, not one per probe."""
    found = run(make_ctx(L.ExitInWorkerSeq()))
    assert [f.path for f in by_code(found, "TSG821")] == ["loader[2]"]


@pytest.mark.slow
@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver"
)
def test_forkserver_planned_uses_forkserver() -> None:
    """With start_method='forkserver' the child is started by the forkserver."""
    found = spawn_dry_run(make_ctx(L.DropsStateSeq(), start_method="forkserver"))
    assert [f.details["start_method"] for f in by_code(found, "TSG104")] == ["forkserver"]


@pytest.mark.slow
def test_unguarded_main_script_is_reported(tmp_path: Path) -> None:
    """A script without a __main__ guard: the spawned child re-runs it; TSG102 on __main__."""
    script = tmp_path / "train.py"
    tests_dir = Path(__file__).parent
    script.write_text(
        "import sys, json, time\n"
        f"sys.path.insert(0, {str(tests_dir)!r})\n"
        "import loaders.processes as L\n"
        "from threadsafe_gen._probes import ProbeContext\n"
        "from threadsafe_gen._probes.spawn import spawn_dry_run\n"
        "ctx = ProbeContext(L.PureSeq(), 'sequence', 2, True, 'spawn', list(range(8)), None,\n"
        "                   64, 5.0, time.monotonic() + 60)\n"
        "found = spawn_dry_run(ctx)\n"
        "print(json.dumps([[f.code, f.path] for f in found if f.code != 'TSG702']))\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == '[["TSG102", "__main__"]]'


@pytest.mark.slow
@pytest.mark.keras
@needs_fork
def test_pure_keras_pydataset_has_no_problem_under_fork_and_spawn() -> None:
    """A pure PyDataset: no error or warning from inspection, fork or spawn; spawn cost measured."""
    pytest.importorskip("keras")
    import loaders.processes_keras as K

    ds = K.PurePyDataset(workers=2, use_multiprocessing=True)
    found = run(make_ctx(ds, start_method="spawn", timeout=90.0))
    assert [(f.code, f.path) for f in found if f.severity is not Severity.INFO] == []
    cost = by_code(found, "TSG702")
    assert [f.details["start_method"] for f in cost] == ["spawn"]
    assert cost[0].details["seconds_per_worker"] > 0
