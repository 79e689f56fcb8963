"""Scripts rule (threadsafe_gen/_lint/rules/scripts.py): TSG851."""

from __future__ import annotations

import pytest
from lint_cases.support import CASES, codes

from threadsafe_gen._lint import lint_paths


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("import multiprocessing\np = multiprocessing.Pool(2)", ["TSG851"]),
        (
            "from concurrent.futures import ProcessPoolExecutor\nex = ProcessPoolExecutor()",
            ["TSG851"],
        ),
        (
            "import multiprocessing as mp\nctx = mp.get_context('spawn')\nmp.get_context('spawn').Process(target=f).start()",
            ["TSG851"],
        ),
        ("model.fit(ds, workers=2, use_multiprocessing=True)", ["TSG851"]),
        ("import multiprocessing\nif __name__ == '__main__':\n    multiprocessing.Pool(2)", []),
        (
            "import multiprocessing\ndef main():\n    multiprocessing.Pool(2)\nif __name__ == '__main__':\n    main()",
            [],
        ),
        ("import multiprocessing\ndef main():\n    multiprocessing.Pool(2)\nmain()", ["TSG851"]),
        ("model.fit(ds, workers=2)", []),
    ],
)
def test_main_guard(src: str, expected: list[str]) -> None:
    """Starting process workers at import time without the __main__ guard gives TSG851."""
    assert codes(src) == expected


def test_script_without_guard_vs_guarded() -> None:
    """train_script.py (no guard) gives TSG851 on the call of train(); the guarded copy is clean."""
    result = lint_paths([CASES / "train_script.py", CASES / "guarded_script.py"], root=CASES)
    assert [(f.code, str(f.location)) for f in result.findings] == [
        ("TSG851", "train_script.py:23:1")
    ]
