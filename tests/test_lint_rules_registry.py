"""Every lint code is owned by exactly one rule module (threadsafe_gen/_lint/rules/)."""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter

from threadsafe_gen import REGISTRY
from threadsafe_gen._lint import rules
from threadsafe_gen._lint.rules import RULE_MODULES, RULES

LINT_CODES = {c.code for c in REGISTRY.values() if c.kind == "lint"}


def test_every_rule_module_is_listed() -> None:
    """Each module of the rules package is in RULE_MODULES (adding a file is not enough)."""
    found = {
        importlib.import_module(f"{rules.__name__}.{m.name}")
        for m in pkgutil.iter_modules(rules.__path__)
    }
    assert found == set(RULE_MODULES)


def test_each_lint_code_is_declared_by_exactly_one_rule_module() -> None:
    """The modules' CODES partition the registry's lint codes: none missing, none twice."""
    declared = Counter(code for m in RULE_MODULES for code in m.CODES)
    assert set(declared) == LINT_CODES
    assert [code for code, n in declared.items() if n > 1] == []


def test_rules_report_only_their_modules_codes() -> None:
    """A module's rules together report exactly the codes the module declares."""
    for module in RULE_MODULES:
        module_rules = getattr(module, "RULES", ())
        if not module_rules:  # findings built by the engine (TSG653, TSG852)
            continue
        codes = set().union(*(r.codes for r in module_rules))
        assert codes == set(module.CODES), module.__name__
    listed = [r for m in RULE_MODULES for r in getattr(m, "RULES", ())]
    assert list(RULES) == listed


def test_rule_names_are_unique() -> None:
    """Rule names identify rules in errors and profiles."""
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
