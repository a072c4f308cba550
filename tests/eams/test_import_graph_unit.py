"""The layout of the eams/ package holds: no module imports one that imports it back (every
import statement counts: module-level, function-local and ``if TYPE_CHECKING:``), and the
worker's parts (``eams.host``) need neither the HTTP API nor the CLI, which are built on
them. Read from the source with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "eams"


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _module(name: str) -> str | None:
    """The module of ``eams`` an imported name lives in (a submodule, else its package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str) -> set[str]:
    """Every module of ``eams`` that ``name`` imports, anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            wanted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            wanted = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {m for w in wanted if (m := _module(w)) is not None and m != name}
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for found in GRAPH[todo.pop()] - seen:
            seen.add(found)
            todo.append(found)
    return seen


def test_no_module_of_eams_imports_itself_back() -> None:
    circles = sorted(m for m in GRAPH if m in _reachable(m))
    assert not circles, f"these modules of eams/ import themselves back: {circles}"


def test_the_host_needs_neither_the_api_nor_the_cli() -> None:
    above = sorted(m for m in _reachable("eams.host") if m.startswith(("eams.http", "eams.cli")))
    assert not above, f"eams.host reaches {above}: routers and commands import the host"
