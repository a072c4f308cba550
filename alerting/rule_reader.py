"""Read rule files node by node, collecting every problem with its line.

The YAML is composed (``yaml.compose``), not loaded, so each key and value keeps its
``start_mark``; a problem is reported at the line of the key or value at fault. One
``RuleReader`` reads several files so duplicate ids are found across a directory.
A rule with any problem is left out of the result; the others are still checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from alerting.rule_model import KINDS, Rule
from alerting.rule_nodes import NodeReader, node_line, suggest

__all__ = ["RuleReader"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_REQUIRED = ("id", "title", "indicator", "kind", "scope", "levels")
_OPTIONAL = ("pending", "keep_firing", "labels", "description")
_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "absolute": (),
    "ratio_to_baseline": ("baseline",),
    "rise_over_low": ("low_window",),
    "data_gap": ("source", "cadence"),
}
_SPECIFIC = ("baseline", "low_window", "source", "cadence")
_ALLOWED = _REQUIRED + _OPTIONAL + _SPECIFIC


class RuleReader(NodeReader):
    """Turns rule-file texts into ``Rule`` values and a list of ``RuleError`` problems."""

    def __init__(self, *, indicators: Collection[str], reference: Any | None = None) -> None:
        super().__init__(reference=reference)
        self.indicators = frozenset(indicators)
        self.rules: list[Rule] = []
        self._ids: dict[str, str] = {}  # id -> "file:line" of its first definition

    def _read_root(self, text: str) -> None:
        """Read the top level of one file and each of its rules."""
        root = self._compose(text, "a 'rules:' list of rules")
        if root is None:
            return
        entries = self._entries(root, "the top level", ("rules",))
        if "rules" not in entries:
            self._error(node_line(root), "missing the top-level key 'rules:' (a list of rules)")
            return
        rules_node = entries["rules"][1]
        if not isinstance(rules_node, SequenceNode):
            self._error(
                node_line(rules_node), "'rules' must be a list of rule mappings ('- id: …')"
            )
            return
        for item in rules_node.value:
            rule = self._rule(item)
            if rule is not None:
                self.rules.append(rule)

    def _rule(self, node: Node) -> Rule | None:
        """Read one rule mapping; return None when it has any problem."""
        before = len(self.errors)
        if not isinstance(node, MappingNode):
            self._error(
                node_line(node),
                "each rule must be a mapping ('- id: …' with title, "
                "indicator, kind, scope, levels)",
            )
            return None
        entries = self._entries(node, "a rule", _ALLOWED)
        for key in _REQUIRED:
            if key not in entries:
                self._error(node_line(node), f"rule is missing the required key {key!r}")
        got: dict[str, Any] = {}
        readers: dict[str, Callable[[Node], Any]] = {
            "id": self._id,
            "title": lambda n: self._text(n, "title"),
            "indicator": self._indicator,
            "kind": self._kind,
            "scope": self._scope,
            "levels": self._levels,
            "pending": lambda n: self._duration(n, "pending"),
            "keep_firing": lambda n: self._duration(n, "keep_firing"),
            "baseline": self._baseline,
            "low_window": lambda n: self._duration(n, "low_window", positive=True),
            "source": self._source,
            "cadence": lambda n: self._duration(n, "cadence", positive=True),
            "labels": self._labels,
            "description": lambda n: self._text(n, "description"),
        }
        for key, (_, value_node) in entries.items():
            got[key] = readers[key](value_node)
        kind = got.get("kind")
        if kind is not None:
            for key in _KIND_KEYS[kind]:
                if key not in entries:
                    self._error(node_line(node), f"kind {kind!r} needs the key {key!r}")
            for key in _SPECIFIC:
                if key in entries and key not in _KIND_KEYS[kind]:
                    owner = next(k for k, keys in _KIND_KEYS.items() if key in keys)
                    self._error(
                        node_line(entries[key][0]),
                        f"{key!r} applies only to kind "
                        f"{owner!r}, not {kind!r}; remove it or change the kind",
                    )
        if len(self.errors) > before:
            return None
        return Rule(
            id=got["id"],
            title=got["title"],
            indicator=got["indicator"],
            kind=got["kind"],
            scope=got["scope"],
            levels=got["levels"],
            pending=got.get("pending") or timedelta(0),
            keep_firing=got.get("keep_firing") or timedelta(0),
            baseline=got.get("baseline"),
            low_window=got.get("low_window"),
            source=got.get("source"),
            cadence=got.get("cadence"),
            labels=got.get("labels") or {},
            description=got.get("description"),
            file=self._file,
            line=node_line(node),
        )

    def _id(self, node: Node) -> str | None:
        value = self._text(node, "id")
        if value is None:
            return None
        if not _ID.match(value):
            self._error(
                node_line(node),
                f"bad id {value!r}: use lower-case letters, digits and "
                "'_', '.', '-', starting with a letter or digit",
            )
            return None
        if value in self._ids:
            self._error(
                node_line(node),
                f"duplicate rule id {value!r} (first defined at "
                f"{self._ids[value]}); give each rule its own id",
            )
            return None
        self._ids[value] = f"{self._file}:{node_line(node)}"
        return value

    def _indicator(self, node: Node) -> str | None:
        value = self._text(node, "indicator")
        if value is not None and value not in self.indicators:
            self._error(
                node_line(node), f"unknown indicator {value!r}; {suggest(value, self.indicators)}"
            )
            return None
        return value

    def _kind(self, node: Node) -> str | None:
        value = self._text(node, "kind")
        if value is not None and value not in KINDS:
            self._error(node_line(node), f"unknown kind {value!r}; use one of {', '.join(KINDS)}")
            return None
        return value

    def _source(self, node: Node) -> str | None:
        from events.catalogue import PAYLOADS  # the event catalogue: pure domain, no I/O

        value = self._text(node, "source")
        if value is not None and value not in PAYLOADS:
            self._error(
                node_line(node),
                f"unknown event type {value!r} for source; {suggest(value, PAYLOADS)}",
            )
            return None
        return value
