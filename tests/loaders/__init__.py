"""Loaders the tests check, train on and hand to worker processes: one module per kind.

- ``basic``: duck-typed Sequences and generators, one per row of docs/failure-modes.md, for
  check_loader's in-process probes, pickling and tests/test_check.py (imports numpy only).
- ``basic_keras``: the ``basic`` loaders re-based on Keras 3's PyDataset and tf_keras'
  Sequence (imports TensorFlow).
- ``processes``: loaders for the process probes (fork, inspection, spawn, the child runner);
  the crashes and hangs happen only in child processes.
- ``processes_keras``: Keras 3 PyDatasets for the process probes (imports Keras).
- ``keras``: generators and Sequences for the threadsafe_gen.keras tests (Keras classes built
  on first access).
- ``training``: the Keras 3 training proof of tests/test_keras_training.py, runnable as
  ``python -c "import loaders.training as t; t.main()"``.

Spawn and forkserver children unpickle these loaders by module name, so everything lives at
module scope, and ``loaders`` is importable wherever ``tests/`` is on ``sys.path`` (pytest puts
it there: tests/ has a conftest.py and no ``__init__.py``; scripts the tests start get it in
``PYTHONPATH``). This package imports nothing itself: importing ``loaders.basic`` must not
import TensorFlow.
"""
