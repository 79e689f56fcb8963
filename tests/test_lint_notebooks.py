"""Jupyter notebooks (threadsafe_gen/_lint/notebooks.py): cells, positions, bad files."""

from __future__ import annotations

import re
from pathlib import Path

from threadsafe_gen._lint import lint_paths


def write_notebook(path: Path, cells: list[str], markdown_first: bool = True) -> None:
    """Write an nbformat-4 notebook with these code cells (and a markdown cell first)."""
    import json

    nb_cells: list[dict[str, object]] = []
    if markdown_first:
        nb_cells.append({"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]})
    for src in cells:
        nb_cells.append(
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": src.splitlines(keepends=True),
            }
        )
    path.write_text(
        json.dumps({"cells": nb_cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )


def test_notebook_findings_point_at_cell_and_line(tmp_path: Path) -> None:
    """Code cells are linted as one module (magics skipped); findings carry cell and line in cell."""
    write_notebook(
        tmp_path / "train.ipynb",
        [
            "%matplotlib inline\nimport threading\n!pip list\nimport keras",
            "class Loader(keras.utils.PyDataset):\n    def __init__(self, **kwargs):\n"
            "        super().__init__(**kwargs)\n        self.lock = threading.Lock()",
            "%%bash\necho this is not python",
            "def gen():\n    yield 1\nmodel.fit(gen(), workers=4, use_multiprocessing=True)",
        ],
    )
    result = lint_paths([tmp_path], root=tmp_path)
    found = [
        (f.code, f.details.get("cell"), f.location.line if f.location else 0)
        for f in result.findings
    ]
    # No TSG851: a notebook runs in a kernel, there is no __main__ guard to add.
    assert found == [("TSG151", 3, 4), ("TSG451", 5, 3)]


def test_notebook_text_output_names_the_cell(tmp_path: Path) -> None:
    """Text output shows notebook findings as file:cell N:line:col, as ruff does."""
    from threadsafe_gen._output import RunInfo, render

    write_notebook(tmp_path / "nb.ipynb", ["model.fit_generator(g)"], markdown_first=False)
    result = lint_paths([tmp_path / "nb.ipynb"], root=tmp_path)
    text = render(result.findings, RunInfo("lint", files=1), "text")
    assert text.startswith("nb.ipynb:cell 1:1:1: TSG652 [warning]")


def test_notebook_suppression_and_bad_json(tmp_path: Path) -> None:
    """Suppressions work per cell line; a file that is not JSON is one TSG852."""
    write_notebook(
        tmp_path / "a.ipynb", ["x = 1\nmodel.fit_generator(g)  # threadsafe-gen: ignore[TSG652]"]
    )
    (tmp_path / "b.ipynb").write_text("{not json")
    result = lint_paths([tmp_path], root=tmp_path)
    assert [(f.code, f.location.file if f.location else "") for f in result.findings] == [
        ("TSG852", "b.ipynb")
    ]


def test_notebook_syntax_error_names_its_cell(tmp_path: Path) -> None:
    """A notebook that does not parse: TSG852 at the cell and line, in location and message."""
    write_notebook(tmp_path / "nb.ipynb", ["x = 1", "def f(:\n    pass"])
    (finding,) = lint_paths([tmp_path], root=tmp_path).findings
    loc = finding.location
    assert loc is not None
    assert (finding.code, finding.details.get("cell"), loc.line) == ("TSG852", 3, 1)
    assert re.search(
        rf"at cell 3, line 1, column {loc.column}\), so it was not linted", finding.message
    )


def test_notebook_unused_suppression_names_its_cell(tmp_path: Path) -> None:
    """TSG653 in a notebook says which cell and line hold the stale comment."""
    write_notebook(
        tmp_path / "nb.ipynb", ["x = 1", "y = 2\nz = 3  # threadsafe-gen: ignore[TSG351]"]
    )
    result = lint_paths([tmp_path], root=tmp_path, report_unused_ignores=True)
    (finding,) = result.findings
    assert (finding.code, finding.details.get("cell")) == ("TSG653", 3)
    assert "suppresses nothing on cell 3, line 2." in finding.message
    assert [(s.cell, s.line) for s in result.unused_suppressions] == [(3, 2)]
