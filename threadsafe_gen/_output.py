"""Every rendering of findings: text for people, ``json``, ``sarif`` and ``github``.

``text`` is for people (not a stable surface: do not parse it); ``json`` and ``sarif`` are
stable machine formats; ``github`` prints GitHub Actions workflow commands. All four take
the same list of :class:`~threadsafe_gen._finding.Finding` plus a :class:`RunInfo` saying
what they came from (a lint of files, or a check of one loader). ``str(report)`` of a
``LoaderReport`` or ``LintReport`` is :func:`render_text` too, so a check reads the same in
a test failure and in the terminal.

A finding's message does not name its code or docs anchor: each format adds them, once
(the text puts the code in front and the anchor after the fix).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from ._finding import Finding, ProbeResult, at_least, jsonable
from ._registry import REGISTRY, Severity
from ._version import __version__

__all__ = [
    "FORMATS",
    "GITHUB_ANNOTATIONS_PER_LEVEL",
    "GITHUB_SUMMARY_ROWS",
    "JSON_SCHEMA_VERSION",
    "RunInfo",
    "exit_code",
    "github_step_summary",
    "render",
    "render_text",
    "summary_line",
    "use_color",
]

FORMATS = ("text", "json", "sarif", "github")
#: Bumped only for incompatible changes to the ``json`` output.
JSON_SCHEMA_VERSION = 1
#: GitHub shows at most 10 error, 10 warning and 10 notice annotations per step.
GITHUB_ANNOTATIONS_PER_LEVEL = 10
#: Rows of the job-summary table written next to ``--format github`` (GitHub allows 1 MiB).
GITHUB_SUMMARY_ROWS = 500
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_TOOL_NAME = "threadsafe-gen"


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What the findings came from, for headers, summaries and SARIF.

    ``LoaderReport.run_info()`` and ``LintReport.run_info()`` build it; the command line
    adds the wall time, the target file and the root.

    Attributes:
        command: ``"lint"`` or ``"check"``.
        files: files linted (lint).
        seconds: wall time of the run.
        target_file: for check findings, which have no file position: the target's source
            file, relative to *root* with ``/``, used by SARIF and GitHub annotations.
        root: the folder relative paths start from (SARIF ``%SRCROOT%``).
        loader: a short description of the loader checked (check).
        settings: the settings the check assumed (check).
        probes: how each probe went (check).
        notes: why a step of the check was skipped (check).
    """

    command: Literal["lint", "check"]
    files: int = 0
    seconds: float = 0.0
    target_file: str | None = None
    root: str = "."
    loader: str = ""
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    probes: Sequence[ProbeResult] = ()
    notes: Sequence[str] = ()


def exit_code(findings: Sequence[Finding], fail_on: Severity | str) -> int:
    """1 if any finding is at or above *fail_on*, else 0 (the CLI's documented exit codes)."""
    return 1 if at_least(findings, fail_on) else 0


def use_color(stream: Any) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render(
    findings: Sequence[Finding], info: RunInfo, fmt: str = "text", *, color: bool = False
) -> str:
    """Render *findings* in format *fmt* (one of :data:`FORMATS`).

    Raises:
        ValueError: *fmt* is not a known format.
    """
    if fmt == "text":
        return render_text(findings, info, color=color)
    if fmt == "json":
        return json.dumps(_json(findings, info), indent=2)
    if fmt == "sarif":
        return json.dumps(_sarif(findings, info), indent=2)
    if fmt == "github":
        return _github(findings, info)
    msg = f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}"
    raise ValueError(msg)


def summary_line(findings: Sequence[Finding]) -> str:
    """``"2 errors, 1 warning, 0 info"``."""
    n = collections.Counter(f.severity for f in findings)

    def plural(k: int, word: str) -> str:
        return f"{k} {word}" + ("" if k == 1 or word == "info" else "s")

    return ", ".join(
        (
            plural(n[Severity.ERROR], "error"),
            plural(n[Severity.WARNING], "warning"),
            plural(n[Severity.INFO], "info"),
        )
    )


# --- text ---------------------------------------------------------------------------------

_COLORS = {"error": "31", "warning": "33", "info": "36"}
_BOLD = "1"

Paint = Callable[[str, str], str]


def _painter(color: bool) -> Paint:
    """ANSI colour *code* around a text, or the text as it is."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    return paint


def render_text(findings: Sequence[Finding], info: RunInfo, *, color: bool = False) -> str:
    """The text for people: a check's report (settings, findings, probes, verdict last) or a
    lint's findings with its summary last. Colour comes from each finding's severity."""
    paint = _painter(color)
    if info.command == "check":
        return "\n".join(_check_text(findings, info, paint))
    return "\n".join(_lint_text(findings, info, paint))


def _finding_lines(f: Finding, paint: Paint) -> list[str]:
    """One finding: its code and severity in front, what happened, the fix and its docs."""
    tag = f"{paint(f.code, _BOLD)} [{paint(str(f.severity), _COLORS[f.severity.value])}]"
    fix = f"    fix: {f.hint} ({f.check.anchor})"
    if f.location is None:  # a check finding: where in the loader, then what happened
        return [f"{tag} {f.category}: {f.path}", f"    {f.message}", fix]
    where = str(f.location)
    cell = f.details.get("cell")
    if cell is not None:  # notebooks, as ruff prints them
        where = f"{f.location.file}:cell {cell}:{f.location.line}:{f.location.column}"
    return [f"{paint(where, _BOLD)}: {tag} {f.message}", fix]


def _check_text(findings: Sequence[Finding], info: RunInfo, paint: Paint) -> list[str]:
    lines = [f"threadsafe_gen check of {info.loader}" if info.loader else "threadsafe_gen check"]
    if info.settings:
        lines.append("  settings: " + ", ".join(f"{k}={v}" for k, v in info.settings.items()))
    lines.append("")
    if not findings:
        lines.append("No problems found.")
    for f in findings:
        lines += _finding_lines(f, paint)
    if info.probes:
        timing = ", ".join(
            f"{p.name} {p.seconds:.2f}s" + ("" if p.status == "ran" else f" ({p.status})")
            for p in info.probes
        )
        lines += ["", f"  probes: {timing}"]
    if info.notes:
        lines.append("  notes:")
        lines.extend(f"    - {note}" for note in info.notes)
    verdict = "FAILED" if at_least(findings, Severity.ERROR) else "OK"
    lines += ["", paint(f"{verdict}: {summary_line(findings)}", _BOLD)]
    return lines


def _lint_text(findings: Sequence[Finding], info: RunInfo, paint: Paint) -> list[str]:
    lines: list[str] = []
    for f in findings:
        lines += _finding_lines(f, paint)
    noun = "file" if info.files == 1 else "files"
    if findings:
        files_with = len({f.location.file for f in findings if f.location})
        problems = "problem" if len(findings) == 1 else "problems"
        summary = (
            f"Found {len(findings)} {problems} in {files_with} of {info.files} {noun} "
            f"({summary_line(findings)}) in {info.seconds:.2f} s."
        )
        lines.append("")
    else:
        summary = f"No problems found in {info.files} {noun} ({info.seconds:.2f} s)."
    lines.append(paint(summary, _BOLD))
    return lines


# --- json ---------------------------------------------------------------------------------


def _finding_dict(f: Finding) -> dict[str, Any]:
    d = f.to_dict()
    d["title"] = f.check.title
    d["name"] = f.check.name
    d["docs"] = f.check.anchor
    return d


def _json(findings: Sequence[Finding], info: RunInfo) -> dict[str, Any]:
    counts = collections.Counter(f.severity.value for f in findings)
    out: dict[str, Any] = {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": {"name": _TOOL_NAME, "version": __version__},
        "command": info.command,
        "summary": {
            "files": info.files,
            "findings": len(findings),
            "errors": counts["error"],
            "warnings": counts["warning"],
            "info": counts["info"],
            "seconds": round(info.seconds, 3),
        },
        "findings": [_finding_dict(f) for f in findings],
    }
    if info.command == "check":
        out["loader"] = info.loader
        out["settings"] = jsonable(info.settings)
        out["probes"] = [dataclasses.asdict(p) for p in info.probes]
    return out


# --- sarif --------------------------------------------------------------------------------

_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _fingerprint(f: Finding, file: str | None) -> str:
    # Stable across runs and unrelated edits: no line numbers, only what the finding is
    # about (code, file, the qualified name of the code and the first sentence).
    first = f.message.split(": ", 1)[0]
    text = "\x00".join((f.code, file or "", f.path, first))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _sarif(findings: Sequence[Finding], info: RunInfo) -> dict[str, Any]:
    codes = sorted({f.code for f in findings})
    rule_index = {code: i for i, code in enumerate(codes)}
    rules = []
    for code in codes:
        check = REGISTRY[code]
        rules.append(
            {
                "id": code,
                "name": "".join(part.capitalize() for part in check.name.split("-")),
                "shortDescription": {"text": check.title},
                "fullDescription": {"text": check.why},
                "help": {
                    "text": f"{check.fix} See {check.anchor}.",
                    "markdown": f"{check.fix}\n\nSee [{code}]({check.anchor}).",
                },
                "helpUri": check.anchor,
                "defaultConfiguration": {"level": _SARIF_LEVEL[check.severity.value]},
                "properties": {"tags": [check.category.value, check.kind]},
            }
        )
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": rule_index[f.code],
            "level": _SARIF_LEVEL[f.severity.value],
            "message": {"text": f"{f.message}\nfix: {f.hint}"},
        }
        file = f.location.file if f.location else info.target_file
        if file is not None:
            region: dict[str, int] = {"startLine": 1}
            if f.location is not None:  # SARIF counts from 1: never a 0 or -1 from a parser
                region = {
                    "startLine": max(f.location.line, 1),
                    "startColumn": max(f.location.column, 1),
                }
                if f.location.end_line is not None:
                    region["endLine"] = max(f.location.end_line, 1)
                if f.location.end_column is not None:
                    region["endColumn"] = max(f.location.end_column, 1)
            if Path(file).is_absolute():  # outside the project root: an absolute file URI
                artifact = {"uri": Path(file).as_uri()}
            else:  # percent-encoded: a '#', '?', ':' or space in a file name stays the name
                artifact = {"uri": urllib.parse.quote(file), "uriBaseId": "%SRCROOT%"}
            physical: dict[str, Any] = {"artifactLocation": artifact, "region": region}
            result["locations"] = [
                {
                    "physicalLocation": physical,
                    "logicalLocations": [{"fullyQualifiedName": f.path}],
                }
            ]
        result["partialFingerprints"] = {"threadsafeGenFinding/v1": _fingerprint(f, file)}
        if f.details:
            result["properties"] = {"details": f.to_dict()["details"]}
        results.append(result)
    root_uri = Path(info.root).resolve().as_uri().rstrip("/") + "/"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": _TOOL_NAME,
                "version": __version__,
                "informationUri": "https://pypi.org/project/threadsafe-gen/",
                "rules": rules,
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}


# --- github -------------------------------------------------------------------------------

_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _annotation(level: str, f: Finding, file: str | None) -> str:
    props: list[str] = []
    if file is not None:
        props.append(f"file={_escape_property(file)}")
        if f.location is not None:
            props.append(f"line={f.location.line}")
            props.append(f"col={f.location.column}")
            if f.location.end_line is not None:
                props.append(f"endLine={f.location.end_line}")
            if f.location.end_column is not None and f.location.end_line == f.location.line:
                props.append(f"endColumn={f.location.end_column}")
        else:
            props.append("line=1")
    props.append(f"title={_escape_property(f'{f.code} {f.check.title}')}")
    body = f"{f.message} Fix: {f.hint} ({f.check.anchor})"
    return f"::{level} {','.join(props)}::{_escape_data(body)}"


def _github(findings: Sequence[Finding], info: RunInfo) -> str:
    # NOTE [ GitHub annotation caps ]
    # GitHub keeps only 10 error, 10 warning and 10 notice annotations per step; the rest
    # are dropped silently. Per level we print the 9 best-ranked findings and one summary
    # annotation for the remainder, so nothing disappears without a trace. Ranking takes
    # the first finding of each code before the second of any code, so one noisy rule
    # cannot hide the others.
    out: list[str] = []
    for sev in ("error", "warning", "info"):
        group = [f for f in findings if f.severity.value == sev]
        if group:
            out += _github_level(sev, group, info)
    noun = "file" if info.files == 1 else "files"
    files = f" in {info.files} {noun}" if info.command == "lint" else ""
    out.append(f"threadsafe-gen {info.command}: {summary_line(findings)}{files}.")
    return "\n".join(out)


def _github_level(sev: str, group: list[Finding], info: RunInfo) -> list[str]:
    """The annotations of one severity, capped (see NOTE [ GitHub annotation caps ])."""
    level = _GITHUB_LEVEL[sev]
    cap = GITHUB_ANNOTATIONS_PER_LEVEL
    seen: collections.Counter[str] = collections.Counter()
    ranked: list[tuple[int, int, Finding]] = []
    for i, f in enumerate(group):
        ranked.append((seen[f.code], i, f))
        seen[f.code] += 1
    ranked.sort(key=lambda t: (t[0], t[1]))
    shown = ranked if len(ranked) <= cap else ranked[: cap - 1]
    out = [
        _annotation(level, f, f.location.file if f.location else info.target_file)
        for _, _, f in shown
    ]
    rest = [f for _, _, f in ranked[len(shown) :]]
    if rest:
        by_code = collections.Counter(f.code for f in rest)
        listed = ", ".join(f"{code} x{n}" for code, n in sorted(by_code.items()))
        title = _escape_property(f"and {len(rest)} more {sev} findings")
        body = _escape_data(
            f"{len(rest)} more {sev} findings not annotated (GitHub shows {cap} per "
            f"step): {listed}. Run `threadsafe-gen {info.command} --format text` "
            "locally, or upload --format sarif to code scanning, to see them all."
        )
        out.append(f"::{level} title={title}::{body}")
    return out


def github_step_summary(findings: Sequence[Finding], info: RunInfo) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: every finding in one table (annotations are capped).

    The CLI appends it to the file named by ``GITHUB_STEP_SUMMARY`` with ``--format github``,
    so the findings the annotation cap leaves out are still one click away on the run page.
    """

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"### threadsafe-gen {info.command}: {summary_line(findings)}", ""]
    if not findings:
        lines.append("No problems found.")
        return "\n".join(lines) + "\n"
    lines += ["| severity | code | where | message |", "|---|---|---|---|"]
    for f in findings[:GITHUB_SUMMARY_ROWS]:
        where = str(f.location) if f.location else f.path
        lines.append(f"| {f.severity.value} | {f.code} | `{cell(where)}` | {cell(f.message)} |")
    if len(findings) > GITHUB_SUMMARY_ROWS:
        rest = len(findings) - GITHUB_SUMMARY_ROWS
        lines += ["", f"... and {rest} more: run with `--format sarif` or `--format json`."]
    return "\n".join(lines) + "\n"
