"""cases/ is pure domain: it imports events/ and the standard library, pydantic and yaml,
never Kafka, ClickHouse, HTTP or the packages built on them (read with ``ast``)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cases"
ALLOWED_ROOTS = {"cases", "events", "pydantic", "yaml", "__future__"}


def test_cases_imports_only_the_domain() -> None:
    import sys

    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                if root not in ALLOWED_ROOTS and root not in sys.stdlib_module_names:
                    found.setdefault(path.name, set()).add(name)
    assert found == {}
