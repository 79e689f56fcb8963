"""``assert_loader_safe``: ``check_loader()`` as a one-line test assertion.

Lives outside :mod:`threadsafe_gen.pytest_plugin` so ``import threadsafe_gen`` never imports
pytest; the plugin's ``loader_check`` fixture returns this same function.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._findings import LoaderReport, Severity
from .errors import LoaderCheckError

__all__ = ["assert_loader_safe"]


def assert_loader_safe(
    loader: Any,
    *,
    workers: int = 4,
    use_multiprocessing: bool | None = None,
    start_method: str | None = None,
    max_batches: int | None = None,
    timeout: float = 60.0,
    batch_timeout: float | None = None,
    ignore: Iterable[str] = (),
    fail_on: Severity | str = "error",
) -> LoaderReport:
    """Fail the test, with the readable report, if *loader* is not safe for *workers*.

    Use it as the whole body of a test: it runs :func:`threadsafe_gen.check_loader` and
    raises when any finding is at or above *fail_on*. Pytest shows the report (codes, what
    happened, how to fix it) as the failure message, without this function's frame.

    Args:
        loader: anything ``check_loader()`` accepts (a PyDataset, a Sequence, a generator
            function, an iterator).
        workers: planned number of workers (default 4: a check with one worker finds few
            concurrency problems).
        use_multiprocessing: plan for processes instead of threads (default: the loader's
            own setting, else threads).
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"``.
        max_batches: batches per pass.
        timeout: total time budget in seconds.
        batch_timeout: limit per call in seconds.
        ignore: finding codes to leave out, e.g. ``["TSG401"]``.
        fail_on: lowest severity that fails: ``"error"`` (default), ``"warning"`` or ``"info"``.

    Returns:
        The :class:`~threadsafe_gen.LoaderReport`, when nothing reached *fail_on*.

    Raises:
        LoaderCheckError: a finding reached *fail_on* (an ``AssertionError``; its message is
            the report and ``.report`` holds it).
        ValueError: *fail_on* is not a severity.

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
    from ._check import check_loader

    report = check_loader(
        loader,
        workers=workers,
        use_multiprocessing=use_multiprocessing,
        start_method=start_method,
        max_batches=max_batches,
        timeout=timeout,
        batch_timeout=batch_timeout,
        ignore=ignore,
    )
    failing = [f for f in report.findings if f.severity.rank >= threshold.rank]
    if failing:
        codes = ", ".join(sorted({f.code for f in failing}))
        head = (
            f"loader is not safe with workers={workers}: {len(failing)} finding(s) at or above "
            f"{threshold.value} ({codes}). Fix them, or pass ignore=[...] for accepted risks.\n\n"
        )
        raise LoaderCheckError(head + str(report), report)
    return report
