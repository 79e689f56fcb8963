"""Helpers shared by several test files (importable because pytest puts tests/ on sys.path).

- ``probes``: run check_loader's probes and assert nothing is left behind.
- ``keras_fit``: train tiny Keras 3 / tf_keras models and record the rows they trained on.
- ``strategies``: shared Hypothesis strategies.
- ``examples``: run an example script in a process group of its own, killed whatever happens.
- ``postgres``: a throwaway PostgreSQL server for the PostgreSQL example's test.
"""
