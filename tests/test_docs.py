"""The documentation site: it builds strictly, every example runs, checks.md matches the registry.

Conventions for ```python blocks in docs/*.md (see docs/index.md, "Reading the examples"):

* every block is a complete script, run on its own in a fresh interpreter in an empty
  temporary directory (so `if __name__ == "__main__":` guards and spawn workers behave as in a
  user's script);
* a block that shows an error on purpose contains a visible line
  ``# raises: <ExceptionType>: <message start>``: the test asserts that the script DOES fail
  with that text in its traceback;
* a block that cannot run here (it needs a server we do not have) contains
  ``# not run: <reason>``; it is still compiled, and the number of such blocks is capped;
* ``>>>`` blocks are run with doctest.

docs/checks.md is generated (docs/gen_checks.py); its examples (files in
threadsafe_gen/_examples/) are compiled here and run in tests/test_registry_examples.py: the
lint codes' through the linter, the others' through check_loader() with the helpers they
assume.
"""

from __future__ import annotations

import ast
import dataclasses
import html.parser
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import threadsafe_gen
from threadsafe_gen._finding import make_finding
from threadsafe_gen._registry import REGISTRY
from threadsafe_gen._report import LoaderReport

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GENERATED = {"checks.md"}
MAX_NOT_RUN = 3  # blocks marked `# not run:`; keep the docs honest
EXAMPLE_TIMEOUT = 240.0  # seconds; a TensorFlow import alone takes several on 2 busy cores

_FENCE_OPEN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)(?P<rest>.*)$"
)
_RAISES = re.compile(r"^[ \t]*# raises: (?P<text>.+?)\s*$", re.MULTILINE)
_NOT_RUN = re.compile(r"^[ \t]*# not run: (?P<reason>.+?)\s*$", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced Python block of a docs page."""

    page: str  # path relative to docs/
    line: int  # 1-based line of the opening fence
    source: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def raises(self) -> str | None:
        m = _RAISES.search(self.source)
        return m.group("text") if m else None

    @property
    def not_run(self) -> str | None:
        m = _NOT_RUN.search(self.source)
        return m.group("reason") if m else None

    @property
    def is_doctest(self) -> bool:
        return self.source.lstrip().startswith(">>>")


def iter_blocks(path: Path) -> Iterator[Block]:
    """Yield the ```python / ```py / ```pycon blocks of one Markdown file (indented ones too)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(DOCS).as_posix()
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group("indent"), m.group("fence"), m.group("lang").lower()
        close = re.compile(rf"^{re.escape(indent)}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not close.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1  # skip the closing fence
        if lang in {"python", "py", "pycon"}:
            text = "\n".join(ln[len(indent) :] if ln.startswith(indent) else ln for ln in body)
            yield Block(page, start + 1, textwrap.dedent(text) + "\n")


def doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p.relative_to(DOCS).as_posix() not in GENERATED)


ALL_BLOCKS = [b for p in doc_pages() for b in iter_blocks(p)]


# --- which API a block needs (a renamed or removed name fails with that name) ----------------

_ATTR_USE = re.compile(r"\b(?:tsg|threadsafe_gen)\.(\w+)")
_FROM_IMPORT = re.compile(
    r"^[ \t]*from (threadsafe_gen(?:\.\w+)*) import (?:\(([^)]*)\)|([\w, \t]+)$)", re.MULTILINE
)
_MODULE_USE = re.compile(r"\bthreadsafe_gen\.(keras|testing|errors)\.(\w+)")


def _module_names(module: str) -> set[str] | None:
    """Top-level names a submodule defines, read from its source (no import: keras is heavy)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    names: set[str] = set()
    # Top-level statements, including those under `if`/`try` (TYPE_CHECKING, fallbacks), and
    # `__all__`: a lazy module `__getattr__` serves names that no statement binds.
    body = list(tree.body)
    for node in tree.body:
        if isinstance(node, (ast.If, ast.Try)):
            body += node.body + node.orelse + getattr(node, "finalbody", [])
            body += [n for h in getattr(node, "handlers", []) for n in h.body]
    for node in body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            value = node.value
            if isinstance(value, (ast.List, ast.Tuple)):
                names.update(
                    e.value
                    for e in value.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                )
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def missing_api(source: str) -> list[str]:
    """Names of threadsafe_gen's API that *source* uses and that do not exist."""
    missing: list[str] = []
    for name in _ATTR_USE.findall(source):
        if name in {"keras", "testing", "errors", "grain"}:
            if importlib.util.find_spec(f"threadsafe_gen.{name}") is None:
                missing.append(f"threadsafe_gen.{name}")
        elif not hasattr(threadsafe_gen, name):
            missing.append(f"threadsafe_gen.{name}")
    uses = [(f"threadsafe_gen.{m}", n) for m, n in _MODULE_USE.findall(source)]
    for module, group, line in _FROM_IMPORT.findall(source):
        names = (group or line).replace("\n", ",").split(",")
        uses += [(module, n.split(" as ")[0].strip()) for n in names if n.strip()]
    for module, name in uses:
        if module == "threadsafe_gen":
            if not hasattr(threadsafe_gen, name):
                missing.append(f"threadsafe_gen.{name}")
            continue
        defined = _module_names(module)
        if defined is None or name not in defined:
            missing.append(f"{module}.{name}")
    return sorted(set(missing))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND="tensorflow",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONHASHSEED="0",
        NO_MKDOCS_2_WARNING="1",
    )
    env.pop("PYTHONWARNINGS", None)
    return env


def _python(
    args: list[str], cwd: Path, timeout: float = EXAMPLE_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with *args* in *cwd*; a run over *timeout* fails the test."""
    try:
        return subprocess.run(
            [sys.executable, *args],
            cwd=cwd,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills the child on timeout
        pytest.fail(f"{args} did not finish within {timeout} s:\n{exc}")


def _run_script(source: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "example.py").write_text(source, encoding="utf-8")
    return _python(["example.py"], tmp_path)


def _run_doctest(source: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "example.txt").write_text(source, encoding="utf-8")
    code = (
        "import doctest, sys\n"
        "r = doctest.testfile('example.txt', module_relative=False,"
        " optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)\n"
        "sys.exit(1 if r.failed or not r.attempted else 0)\n"
    )
    return _python(["-c", code], tmp_path)


# --- tests -----------------------------------------------------------------------------------


def test_docs_have_examples() -> None:
    """The docs contain runnable Python examples, and few are exempt from running."""
    not_run = [b.id for b in ALL_BLOCKS if b.not_run]
    assert len(ALL_BLOCKS) >= 20, [b.id for b in ALL_BLOCKS]
    assert len(not_run) <= MAX_NOT_RUN, not_run


_IMPORTS_KERAS = re.compile(
    r"^[ \t]*(?:>>> )?(?:import|from)[ \t]+(?:keras|tensorflow|tf_keras)\b", re.M
)


_IMPORTS_FRAMEWORK = {
    name: re.compile(rf"^[ \t]*(?:>>> )?(?:import|from)[ \t]+{name}\b", re.M)
    for name in ("torch", "grain")
}


def _block_param(block: Block) -> object:
    """The block as a test parameter, marked `keras` when it imports TensorFlow or Keras, and
    `torch`/`grain` when it imports those (optional extras)."""
    marks = [pytest.mark.keras] if _IMPORTS_KERAS.search(block.source) else []
    marks += [
        getattr(pytest.mark, n) for n, r in _IMPORTS_FRAMEWORK.items() if r.search(block.source)
    ]
    return pytest.param(block, id=block.id, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("block", [_block_param(b) for b in ALL_BLOCKS])
def test_example_runs(block: Block, tmp_path: Path) -> None:
    """A docs example runs as a script (or raises exactly the error it says it raises)."""
    compile(block.source if not block.is_doctest else "", block.id, "exec")
    if block.not_run:
        pytest.skip(f"marked `# not run: {block.not_run}` (compiled only)")
    for name, imports in _IMPORTS_FRAMEWORK.items():
        if imports.search(block.source):
            pytest.importorskip(name)  # the [torch] / [grain] extras
    # Every name the example uses must exist: a renamed API fails here with its name, before
    # the script runs (and fails less readably).
    assert missing_api(block.source) == []
    if block.is_doctest:
        out = _run_doctest(block.source, tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        return
    out = _run_script(block.source, tmp_path)
    expected = block.raises
    if expected is None:
        assert out.returncode == 0, f"{block.id} failed:\n{out.stdout}\n{out.stderr}"
    else:
        assert out.returncode != 0, f"{block.id} should raise {expected!r} but exited 0"
        assert expected in out.stderr, f"{block.id}: expected {expected!r} in:\n{out.stderr}"


def test_checks_page_is_generated_from_registry() -> None:
    """docs/checks.md is exactly what docs/gen_checks.py renders from REGISTRY (regenerate it)."""
    spec = importlib.util.spec_from_file_location("gen_checks", DOCS / "gen_checks.py")
    assert spec is not None
    assert spec.loader is not None
    gen_checks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_checks)
    expected = gen_checks.render()
    actual = (DOCS / "checks.md").read_text(encoding="utf-8")
    assert expected == actual, "docs/checks.md is stale: run `python docs/gen_checks.py`"


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_registry_examples_compile(code: str) -> None:
    """The failing and fixed examples of a registry code are valid Python."""
    check = REGISTRY[code]
    if check.name == "syntax-error":  # its failing example is unparsable by design
        with pytest.raises(SyntaxError):
            compile(check.example, f"{code}.example", "exec")
        compile(check.fixed, f"{code}.fixed", "exec")
        return
    for label, source in (("example", check.example), ("fixed", check.fixed)):
        compile(source, f"{code}.{label}", "exec")


class _Ids(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key == "id" and value:
                self.ids.add(value)
            if key == "href" and value:
                self.hrefs.add(value)


def _parse(path: Path) -> _Ids:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built once with `mkdocs build --strict` into a temporary directory."""
    out_dir = tmp_path_factory.mktemp("site")
    args = ["-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out_dir)]
    proc = _python(args, ROOT, timeout=600)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out_dir


@pytest.mark.slow
def test_mkdocs_build_strict(site: Path) -> None:
    """`mkdocs build --strict` succeeds and produces every page of the nav."""
    for page in (
        "index.html",
        "quickstart/index.html",
        "guide/index.html",
        "checks/index.html",
        "api/index.html",
        "changelog/index.html",
        "known-issues/index.html",
    ):
        assert (site / page).is_file(), page
    # A Markdown heading inside a docstring (a `#` comment pasted into it) would show up in the
    # API reference as a heading whose id is `<object>--<text>`.
    stray = sorted(
        i for page in (site / "api").rglob("index.html") for i in _parse(page).ids if "--" in i
    )
    assert stray == []


@pytest.mark.slow
def test_every_code_has_its_anchor_on_the_site(site: Path) -> None:
    """Each registry code has the anchor its findings link to (`checks/#tsg101`)."""
    ids = _parse(site / "checks" / "index.html").ids
    missing = sorted(code for code in REGISTRY if code.lower() not in ids)
    assert missing == []


@pytest.mark.slow
def test_finding_messages_link_to_existing_anchors(site: Path) -> None:
    """Every rendered finding links `(docs/checks.md#code)` and that anchor exists."""
    ids = _parse(site / "checks" / "index.html").ids
    for code in REGISTRY:
        text = str(LoaderReport([make_finding(code, path="loader", message="x")]))
        anchor = f"docs/checks.md#{code.lower()}"
        assert f"({anchor})" in text
        assert anchor.split("#", 1)[1] in ids


@pytest.mark.slow
def test_changelog_page_includes_changelog_md(site: Path) -> None:
    """The changelog page shows CHANGELOG.md's Unreleased section."""
    text = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    assert "Unreleased" in text
    assert "--8&lt;--" not in text


def _package_modules() -> list[str]:
    """The package's modules, without the registry's examples (user code, never imported)."""
    names = ["threadsafe_gen"]
    for info in pkgutil.walk_packages(threadsafe_gen.__path__, "threadsafe_gen."):
        if not info.name.startswith("threadsafe_gen._examples."):
            names.append(info.name)
    return sorted(names)


@pytest.mark.slow
@pytest.mark.parametrize(
    "module",
    [
        pytest.param(m, marks=pytest.mark.keras)
        if m == "threadsafe_gen.keras" or m.startswith("threadsafe_gen.keras.")
        else pytest.param(m, marks=pytest.mark.grain)
        if m == "threadsafe_gen.grain"
        else m
        for m in _package_modules()
    ],
)
def test_module_doctests(module: str, tmp_path: Path) -> None:
    """The `>>>` examples in a module's docstrings pass (run in a fresh interpreter)."""
    if module == "threadsafe_gen.grain":
        pytest.importorskip("grain")  # Python >= 3.11, the [grain] extra
    code = (
        "import doctest, importlib, sys\n"
        f"m = importlib.import_module({module!r})\n"
        "r = doctest.testmod(m, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)\n"
        "print(f'{r.attempted} attempted, {r.failed} failed')\n"
        "sys.exit(1 if r.failed else 0)\n"
    )
    out = _python(["-c", code], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_api_reference_lists_every_public_name() -> None:
    """docs/api/index.md has a `::: threadsafe_gen.NAME` entry for every name in __all__."""
    text = (DOCS / "api" / "index.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: threadsafe_gen\.(\w+)\s*$", text, re.MULTILINE))
    own_pages = {"__version__", "errors", "keras", "testing"}
    missing = sorted(set(threadsafe_gen.__all__) - documented - own_pages)
    assert missing == []


@pytest.mark.parametrize("page", sorted((DOCS / "how-to").glob("*.md")), ids=lambda p: p.name)
def test_how_to_pages_start_from_the_symptom(page: Path) -> None:
    """Each how-to opens with its symptom (users arrive with an error text) and shows a fix."""
    text = page.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings, page.name
    assert headings[0].startswith("Symptom"), headings
    assert any(h.startswith(("Fix", "Step")) for h in headings), headings


def test_error_messages_page_lists_every_exception() -> None:
    """docs/error-messages.md explains every exception class threadsafe_gen.errors exports."""
    text = (DOCS / "error-messages.md").read_text(encoding="utf-8")
    bases = {"ThreadsafeGenError", "ThreadsafeGenWarning"}  # roots, explained in the API page
    missing = sorted(
        n for n in threadsafe_gen.errors.__all__ if n not in bases and f"errors.{n}`" not in text
    )
    assert missing == []
