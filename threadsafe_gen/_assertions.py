"""``assert_loader_safe``: ``check_loader()`` as a one-line test assertion.

Lives outside :mod:`threadsafe_gen.pytest_plugin` so ``import threadsafe_gen`` never imports
pytest; the plugin's ``loader_check`` fixture returns this same function.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from ._check import CheckOptions, run_check
from ._registry import Severity
from ._report import LoaderReport

__all__ = ["assert_loader_safe"]

#: What assert_loader_safe plans for when it is not told: a check with one worker finds
#: few concurrency problems.
DEFAULT_WORKERS = 4


def assert_loader_safe(
    loader: Any,
    *,
    options: CheckOptions | None = None,
    fail_on: Severity | str = "error",
    **kwargs: Any,
) -> LoaderReport:
    """Fail the test, with the readable report, if *loader* is not safe for its workers.

    Use it as the whole body of a test: it runs :func:`threadsafe_gen.check_loader` and
    raises when any finding is at or above *fail_on*. Pytest shows the report (codes, what
    happened, how to fix it) as the failure message, without this function's frame.

    Args:
        loader: anything ``check_loader()`` accepts (a PyDataset, a Sequence, a generator
            function, an iterator).
        options: the check's options as one ``CheckOptions``; keyword options replace its
            fields.
        fail_on: lowest severity that fails: ``"error"`` (default), ``"warning"`` or ``"info"``.
        **kwargs: any option of :func:`threadsafe_gen.check_loader` (``workers``,
            ``use_multiprocessing``, ``start_method``, ``max_batches``, ``timeout``,
            ``batch_timeout``, ``ignore``, ``probes``), with the same meaning, except that
            ``workers`` defaults to 4 here: a check with one worker finds few concurrency
            problems.

    Returns:
        The :class:`~threadsafe_gen.LoaderReport`, when nothing reached *fail_on*.

    Raises:
        LoaderCheckError: a finding reached *fail_on* (an ``AssertionError``; its message is
            the report and ``.report`` holds it).
        TypeError: an unknown option, or an option of the wrong type.
        ValueError: *fail_on* is not a severity, or an option is out of range.

    >>> class Squares:
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         import numpy as np
    ...         return np.arange(3.0)[None, :] * i + i, np.full((1, 1), i)
    >>> assert_loader_safe(Squares(), workers=2, max_batches=4).ok
    True
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not ours
    threshold = Severity(fail_on)
    report = run_check(loader, _options(options, kwargs))
    report.raise_for(threshold)
    return report


def _options(options: CheckOptions | None, kwargs: dict[str, Any]) -> CheckOptions:
    """*options* (default: 4 workers) with the keyword options in place of its fields."""
    given: object = options  # a caller's slip is not excluded by the annotation
    if not isinstance(given, (CheckOptions, type(None))):
        msg = f"assert_loader_safe() expected options to be a CheckOptions, got {type(options).__name__}"
        raise TypeError(msg)
    names = [f.name for f in dataclasses.fields(CheckOptions)]
    for key in kwargs:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            msg = (
                f"assert_loader_safe() got an unexpected keyword argument {key!r}.{hint} "
                f"Its options are check_loader()'s: {', '.join(names)}."
            )
            raise TypeError(msg)
    base = options if options is not None else CheckOptions(workers=DEFAULT_WORKERS)
    return dataclasses.replace(base, **kwargs)
