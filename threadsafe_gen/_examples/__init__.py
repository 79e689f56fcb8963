"""The registry's examples: for each code, a loader that has the problem and the same loader fixed.

`threadsafe-gen explain CODE` and docs/checks.md show them; tests/test_registry_examples.py
runs them (the dry-run codes' through ``check_loader()``, the lint codes' through the linter).

* ``tsg101.py`` triggers TSG101 and ``tsg101_fix.py`` is the same loader fixed. A code that
  shares another code's example names the shared file in its registry entry
  (``threadsafe_gen/_registry.py``).
* Only what follows the line ``# --- shown by `threadsafe-gen explain` ... from here ---`` is
  shown. Above it are a docstring and, under ``TYPE_CHECKING``, the reader's own helpers the
  example calls (``load(i)``, a ``model``), declared for the type checker in ``_assumed.pyi``.
* ``tsg852.txt`` is not a ``.py`` file: it is a syntax error by design.
* Nothing imports these modules: the registry reads them as text when asked for
  (``threadsafe_gen._registry.read_example``).
"""
