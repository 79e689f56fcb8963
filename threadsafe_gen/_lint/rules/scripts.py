"""Scripts rule: process workers started at import time, outside the ``__main__`` guard
(TSG851).

Under spawn and forkserver every worker re-imports the script and starts workers again, so
training hangs or fails (docs/checks.md#tsg851).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..._text import one_line
from ..astutil import is_main_guard, walk_local
from ..context import ModuleInfo, Rule
from ..facts import Draft

__all__ = ["CODES", "RULES"]

CODES = frozenset({"TSG851"})

_PROCESS_STARTERS = frozenset(
    {
        "multiprocessing.Pool",
        "multiprocessing.Process",
        "multiprocessing.pool.Pool",
        "multiprocessing.context.Process",
        "concurrent.futures.ProcessPoolExecutor",
        "concurrent.futures.process.ProcessPoolExecutor",
    }
)
#: How many calls deep module functions are followed (main() -> train() -> Pool()).
_CALL_DEPTH = 10


def _process_start(module: ModuleInfo, call: ast.Call) -> str | None:
    """How *call* starts worker processes, as shown in the message; else ``None``."""
    q = module.names.call_name(call)
    if q in _PROCESS_STARTERS:
        return f"{q}(...)"
    f = call.func
    if (
        isinstance(f, ast.Attribute)
        and f.attr in {"Pool", "Process", "ProcessPoolExecutor"}
        and isinstance(f.value, ast.Call)
        and module.names.call_name(f.value) == "multiprocessing.get_context"
    ):
        return f"multiprocessing.get_context(...).{f.attr}(...)"
    for k in call.keywords:
        if (
            k.arg == "use_multiprocessing"
            and isinstance(k.value, ast.Constant)
            and k.value.value is True
        ):
            shown = one_line(ast.unparse(call.func), 80)
            return f"{shown}(..., use_multiprocessing=True)"
    return None


def _unguarded_top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import time, outside ``if __name__ == "__main__":``."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(stmt, ast.If) and is_main_guard(stmt.test):
            yield from _unguarded_top_level(stmt.orelse)
            continue
        if isinstance(stmt, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            # Recurse into blocks so a guard nested in `try:` still counts.
            inner: list[ast.stmt] = []
            for field in ("body", "orelse", "finalbody"):
                inner.extend(getattr(stmt, field, []) or [])
            for h in getattr(stmt, "handlers", []) or []:
                inner.extend(h.body)
            header = [stmt.test] if isinstance(stmt, (ast.If, ast.While)) else []
            if isinstance(stmt, ast.For):
                header = [stmt.iter]
            if isinstance(stmt, ast.With):
                header = [i.context_expr for i in stmt.items]
            for h in header:
                yield ast.Expr(h, lineno=stmt.lineno, col_offset=stmt.col_offset)
            yield from _unguarded_top_level(inner)
            continue
        yield stmt


class _Starters:
    """Which module functions start worker processes, looked into only on demand."""

    def __init__(self, module: ModuleInfo) -> None:
        self.module = module
        self.memo: dict[str, bool] = {}

    def starts_processes(self, name: str, depth: int) -> bool:
        if name in self.memo:
            return self.memo[name]
        self.memo[name] = False  # recursion guard
        funcs = self.module.functions
        ans = False
        for n in walk_local(funcs[name].body):
            if not isinstance(n, ast.Call):
                continue
            if _process_start(self.module, n) is not None or (
                depth < _CALL_DEPTH
                and isinstance(n.func, ast.Name)
                and n.func.id in funcs
                and self.starts_processes(n.func.id, depth + 1)
            ):
                ans = True
                break
        self.memo[name] = ans
        return ans


def check(module: ModuleInfo) -> Iterator[Draft]:
    """TSG851 for the first process start that runs at import time (one per script)."""
    if not module.has_procs:
        return
    # Start from the few calls made at import time (outside the guard) and look inside
    # the module functions they call only on demand: library modules have almost no
    # top-level calls, so this costs little even in a big package.
    starters = _Starters(module)
    for stmt in _unguarded_top_level(module.tree.body):
        for n in walk_local([stmt]):
            if not isinstance(n, ast.Call):
                continue
            what = _process_start(module, n)
            if (
                what is None
                and isinstance(n.func, ast.Name)
                and n.func.id in module.functions
                and starters.starts_processes(n.func.id, 0)
            ):
                what = f"{n.func.id}(), which starts worker processes,"
            if what is not None:
                yield module.draft(
                    "TSG851",
                    n,
                    "",
                    f'{what} runs at import time, outside `if __name__ == "__main__":`: '
                    "under spawn/forkserver every worker re-imports this script and starts "
                    "workers again, so training hangs or fails",
                )
                return  # one finding per script is enough to fix it


RULES = (Rule("processes-without-main-guard", CODES, check),)
