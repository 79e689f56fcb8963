"""Which module decides each code, and the probes' declared dependencies (issue 9).

Every code that check_loader can emit is declared (``CODES``) by exactly one probe module, or
by the orchestrator; a module builds findings only for its own codes; and the order in which
check_loader runs the probes records every ProbeState field before a probe reads it.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import threadsafe_gen._probes as probes_pkg
from threadsafe_gen import _check
from threadsafe_gen._probes import ProbeState
from threadsafe_gen._registry import REGISTRY


def _modules() -> list[ModuleType]:
    """Every module of threadsafe_gen._probes."""
    return [
        importlib.import_module(f"{probes_pkg.__name__}.{info.name}")
        for info in pkgutil.iter_modules(probes_pkg.__path__)
    ]


def test_every_runtime_code_is_decided_by_exactly_one_module() -> None:
    """Each check_loader code is in the CODES of one module; each declared code is registered."""
    owners: dict[str, list[str]] = {}
    for module in (*_check.DECIDERS, _check):
        for code in module.CODES:
            owners.setdefault(code, []).append(module.__name__)
    runtime = {c.code for c in REGISTRY.values() if c.kind == "check"}
    assert {code: names for code, names in owners.items() if len(names) != 1} == {}
    assert set(owners) == runtime
    assert all(REGISTRY[code].kind == "check" for code in owners)


def test_every_module_with_codes_is_a_decider() -> None:
    """A probe module that declares codes is listed in check_loader's deciders."""
    declaring = {m.__name__ for m in _modules() if hasattr(m, "CODES")}
    assert declaring == {m.__name__ for m in _check.DECIDERS}


@pytest.mark.parametrize("module", _check.DECIDERS, ids=lambda m: m.__name__.rpartition(".")[2])
def test_a_module_builds_findings_only_for_its_own_codes(module: ModuleType) -> None:
    """Every make_finding("TSG...") in a module names one of that module's CODES."""
    tree = ast.parse(inspect.getsource(module))
    built = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "make_finding"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert built <= module.CODES


def test_probes_run_after_what_they_read_is_recorded() -> None:
    """In check_loader's order, every field a probe needs or reads is recorded before it."""
    fields = {f.name for f in dataclasses.fields(ProbeState)}
    recorded: set[str] = set()
    late: list[tuple[str, str]] = []
    for probe in _check.PROBES:
        assert set(probe.needs + probe.reads + probe.records) <= fields, probe.name
        late += [(probe.name, f) for f in probe.needs + probe.reads if f not in recorded]
        recorded |= set(probe.records)
    assert late == []


def test_probe_names_are_unique_and_in_process_probes_come_first() -> None:
    """Names identify probes in probes=[...]; in-process probes run before the others."""
    names = [p.name for p in _check.PROBES]
    flags = [p.in_process for p in _check.PROBES]
    assert len(names) == len(set(names))
    assert flags == sorted(flags, reverse=True)


def test_duplicates_needs_the_threads_run_and_selecting_it_adds_the_sequential_pass() -> None:
    """The dependency the old shared dict hid is declared: duplicates reads the threads run."""
    duplicates = next(p for p in _check.PROBES if p.name == "duplicates")
    chosen = [p.name for p in _check._select_probes(["duplicates"])]
    assert "threads" in duplicates.reads
    assert chosen == ["sequential", "duplicates"]
