"""cases/ and subsidies/ are pure domain: they import events/ (subsidies/ also cases/) and
the standard library, pydantic and yaml, never Kafka, ClickHouse, HTTP or the packages built
on them (read with ``ast``)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = {"events", "pydantic", "yaml", "__future__"}


@pytest.mark.parametrize(
    ("package", "allowed"),
    [("cases", DOMAIN | {"cases"}), ("subsidies", DOMAIN | {"cases", "subsidies"})],
)
def test_the_domain_packages_import_only_the_domain(package: str, allowed: set[str]) -> None:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                if root not in allowed and root not in sys.stdlib_module_names:
                    found.setdefault(path.name, set()).add(name)
    assert found == {}
