"""Inline suppressions (threadsafe_gen/_lint/suppressions.py) and TSG653 (rules/unused.py)."""

from __future__ import annotations

from lint_cases.support import codes

from threadsafe_gen._lint import lint_source


def test_inline_suppression_by_code() -> None:
    """`# threadsafe-gen: ignore[TSG652]` on the reported line suppresses that code only."""
    src = "model.fit_generator(g)  # threadsafe-gen: ignore[TSG652]\nmodel.fit_generator(g)\n"
    result = lint_source(src)
    assert [(f.code, f.location.line if f.location else 0) for f in result.findings] == [
        ("TSG652", 2)
    ]


def test_bare_suppression_and_lists() -> None:
    """The bare form suppresses everything; a list names several codes."""
    src = "model.fit_generator(g)  # threadsafe-gen: ignore\nmodel.fit_generator(g)  # threadsafe-gen: ignore[TSG351, TSG652]\n"
    assert codes(src) == []


def test_unused_suppressions_are_reported_on_request() -> None:
    """Unused and unknown-code suppressions become TSG653 only with report_unused_ignores."""
    src = "x = 1  # threadsafe-gen: ignore[TSG999]\nmodel.fit_generator(g)  # threadsafe-gen: ignore[TSG652,TSG351]\n"
    assert codes(src) == []
    result = lint_source(src, report_unused_ignores=True)
    messages = [
        (f.location.line if f.location else 0, f.message.split(" (TSG653")[0])
        for f in result.findings
    ]
    assert messages == [
        (
            1,
            "`# threadsafe-gen: ignore[TSG999]` suppresses nothing on line 1; TSG999 is not a registered code.",
        ),
        (2, "`# threadsafe-gen: ignore[TSG351]` suppresses nothing on line 2."),
    ]
