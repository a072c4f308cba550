"""Reading composed YAML nodes while keeping their lines: the base of the rule reader.

``yaml.compose`` keeps a ``start_mark`` on every node, so a problem can be reported at the
line of the key or value at fault. ``FileReader`` collects problems (of any located error
type) instead of stopping at the first and checks the keys of mappings; it serves the rule
reader and ``playbooks.reader``. ``NodeReader`` collects ``RuleError``s and reads the
nested blocks of a rule (scope, levels, baseline, labels); ``alerting.rule_reader`` reads
the rule itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from alerting.durations import parse_duration
from alerting.errors import RuleError
from alerting.rule_model import BASELINE_PERIODS, SCOPE_LEVELS, Baseline, Scope, Threshold
from events.severity import LEVEL_HELP, LEVEL_NAMES

__all__ = ["FileReader", "NodeReader", "is_number", "node_line", "node_value", "suggest"]

_Entries = dict[str, tuple[Node, Node]]


def node_line(node: Node) -> int:
    """Return the 1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


def node_value(node: Node) -> Any:
    """Return the Python value of ``node`` as ``yaml.safe_load`` would build it."""
    return SafeConstructor().construct_object(node, deep=True)


def is_number(value: Any) -> bool:
    """Return whether ``value`` is an int or float (a YAML ``yes`` is not a number)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def suggest(name: str, known: Collection[str], *, list_all: bool = True) -> str:
    """Return a 'did you mean' hint for ``name`` among ``known``.

    Without a close match, return the list of ``known`` names (or "" if not ``list_all``).
    """
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "known: " + ", ".join(sorted(known)) if list_all else ""


class Located(Protocol):
    """A problem that knows its line (``RuleError``, ``PlaybookError``)."""

    line: int


E = TypeVar("E", bound=Located)


class FileReader(Generic[E]):
    """Reads YAML files node by node, collecting every problem as an ``E`` made by
    ``problem(file, line, message)``; subclasses read their own top level in
    ``_read_root`` (rule files here, playbook definitions in ``playbooks.reader``)."""

    def __init__(self, problem: Callable[[str, int, str], E]) -> None:
        self._problem = problem
        self.errors: list[E] = []
        self._file = "<memory>"

    def read(self, text: str, name: str) -> None:
        """Read one file's ``text`` (named ``name`` in messages)."""
        self._file = name
        start = len(self.errors)
        self._read_root(text)
        # Report a file's problems top to bottom, whatever order the checks ran in.
        self.errors[start:] = sorted(self.errors[start:], key=lambda e: e.line)

    def _read_root(self, text: str) -> None:
        raise NotImplementedError

    def _error(self, line: int, message: str) -> None:
        self.errors.append(self._problem(self._file, line, message))

    def _compose(self, text: str, shape: str) -> MappingNode | None:
        """The root mapping of ``text``; a syntax error or another root is reported
        (``shape`` says what the file must hold) and gives None."""
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = int(mark.line) + 1 if mark is not None else 1
            what = " ".join(p for p in (exc.context, exc.problem) if p)
            self._error(line, f"YAML syntax error: {what}; fix the syntax at this line")
            return None
        except yaml.YAMLError as exc:
            self._error(1, f"YAML error: {exc}; fix the file")
            return None
        if not isinstance(root, MappingNode):
            line = node_line(root) if root is not None else 1
            self._error(line, f"the file must be a mapping with {shape}")
            return None
        return root

    def _hint(self, key: str, allowed: Collection[str]) -> str:
        """A 'did you mean' for an unknown key ("" without a close match)."""
        return suggest(key, allowed, list_all=False)

    def _entries(self, node: MappingNode, where: str, allowed: Collection[str]) -> _Entries:
        """Return a mapping's entries by key, reporting non-string, duplicate, unknown keys."""
        out: _Entries = {}
        for key_node, value_node in node.value:
            key = node_value(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self._error(node_line(key_node), f"keys of {where} must be names, got {key!r}")
            elif key in out:
                first = node_line(out[key][0])
                self._error(
                    node_line(key_node),
                    f"duplicate key {key!r} in {where} (first at line {first}); keep one",
                )
            elif key not in allowed:
                hint = self._hint(key, allowed)
                self._error(
                    node_line(key_node),
                    f"unknown key {key!r} in {where}; {hint + ' ' if hint else ''}"
                    f"allowed: {', '.join(allowed)}",
                )
            else:
                out[key] = (key_node, value_node)
        return out


class NodeReader(FileReader[RuleError]):
    """Collects ``RuleError``s for one file at a time and reads the blocks of a rule."""

    def __init__(self, *, reference: Any | None = None) -> None:
        super().__init__(RuleError)
        self.reference = reference

    def _text(self, node: Node, key: str) -> str | None:
        """Return a non-empty string value, or report it and return None."""
        value = node_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, str) and value.strip():
            return value
        self._error(node_line(node), f"{key} must be a non-empty text, got {value!r}")
        return None

    def _duration(self, node: Node, key: str, *, positive: bool = False) -> timedelta | None:
        """Return a duration value, or report it and return None."""
        raw = node_value(node) if isinstance(node, ScalarNode) else node
        try:
            value = parse_duration(raw)
        except ValueError as exc:
            self._error(node_line(node), f"{key}: {exc}")
            return None
        if positive and not value:
            self._error(node_line(node), f"{key} must be longer than zero, e.g. '35d'")
            return None
        return value

    def _region(self, node: Node, key: str) -> str | None:
        """Return a region code (a YAML number is accepted as text), checked if possible."""
        value = node_value(node) if isinstance(node, ScalarNode) else None
        if is_number(value) and isinstance(value, int):
            value = str(value)
        if not isinstance(value, str):
            self._error(node_line(node), f"{key} must be a region code such as '370100'")
            return None
        if self.reference is not None and self.reference.get(value) is None:
            self._error(
                node_line(node),
                f"{key}: unknown region code {value!r}; use a code of "
                f"the region reference (GB/T 2260 for Shandong, e.g. '370100')",
            )
            return None
        return value

    # -- blocks of a rule --------------------------------------------------------------

    def _labels(self, node: Node) -> dict[str, str] | None:
        if not isinstance(node, MappingNode):
            self._error(node_line(node), "labels must be a mapping of names to texts")
            return None
        labels: dict[str, str] = {}
        for key_node, value_node in node.value:
            key, value = node_value(key_node), node_value(value_node)
            if not isinstance(key, str) or not isinstance(value, str):
                self._error(
                    node_line(key_node),
                    f"label {key!r}: names and values must be texts (quote numbers)",
                )
                return None
            labels[key] = value
        return labels

    def _baseline(self, node: Node) -> Baseline | None:
        if not isinstance(node, MappingNode):
            self._error(node_line(node), "baseline must be a mapping {period: …, periods_back: …}")
            return None
        entries = self._entries(node, "baseline", ("period", "periods_back"))
        period = back = None
        if "period" in entries:
            period = node_value(entries["period"][1])
            if period not in BASELINE_PERIODS:
                self._error(
                    node_line(entries["period"][1]),
                    f"baseline period {period!r} is not one of {', '.join(BASELINE_PERIODS)}",
                )
                period = None
        if "periods_back" in entries:
            back = node_value(entries["periods_back"][1])
            if not (isinstance(back, int) and not isinstance(back, bool) and back >= 1):
                self._error(
                    node_line(entries["periods_back"][1]),
                    f"baseline periods_back must be a whole number >= 1, got {back!r}",
                )
                back = None
        for key in ("period", "periods_back"):
            if key not in entries:
                self._error(node_line(node), f"baseline is missing {key!r}")
        if period is None or back is None:
            return None
        return Baseline(period=period, periods_back=back)

    def _scope(self, node: Node) -> Scope | None:
        if not isinstance(node, MappingNode):
            self._error(
                node_line(node),
                "scope must be a mapping: {level: county|city|province} "
                "with an optional 'within: <code>', or {regions: [codes]}",
            )
            return None
        before = len(self.errors)
        entries = self._entries(node, "scope", ("level", "within", "regions"))
        level = within = None
        regions: list[str] = []
        if "level" in entries:
            level = node_value(entries["level"][1])
            if level not in SCOPE_LEVELS:
                self._error(
                    node_line(entries["level"][1]),
                    f"unknown scope level {level!r}; use one of {', '.join(SCOPE_LEVELS)}",
                )
        if "regions" in entries:
            key_node, list_node = entries["regions"]
            if "level" in entries or "within" in entries:
                self._error(
                    node_line(key_node),
                    "scope has both 'regions' and 'level'/'within'; "
                    "use either a level (optionally within a region) or a list",
                )
            if not isinstance(list_node, SequenceNode) or not list_node.value:
                self._error(node_line(list_node), "scope regions must be a non-empty list of codes")
            else:
                regions = [r for r in (self._region(n, "regions") for n in list_node.value) if r]
        elif "level" not in entries:
            self._error(
                node_line(node),
                "scope needs 'level' (county, city or province) or 'regions' (a list of codes)",
            )
        if "within" in entries:
            within = self._region(entries["within"][1], "within")
            if within is not None and "level" not in entries:
                self._error(node_line(entries["within"][0]), "'within' needs a 'level' next to it")
            self._check_within(entries["within"][1], within, level)
        if len(self.errors) > before:
            return None
        return Scope(level=level, within=within, regions=tuple(regions))

    def _check_within(self, node: Node, within: str | None, level: Any) -> None:
        """Report a 'within' region that is not above the scope level (county within city)."""
        if self.reference is None or within is None or level not in SCOPE_LEVELS:
            return
        region = self.reference.get(within)
        outer = getattr(region, "level", None)
        if outer in SCOPE_LEVELS and SCOPE_LEVELS.index(outer) <= SCOPE_LEVELS.index(level):
            self._error(
                node_line(node),
                f"within {within!r} is a {outer}; it holds no {level} "
                "regions, so pick a region above the scope level",
            )

    def _levels(self, node: Node) -> dict[str, Threshold] | None:
        if not isinstance(node, MappingNode) or not node.value:
            self._error(
                node_line(node),
                f"levels must be a mapping with at least one of "
                f"{LEVEL_HELP}, each {{enter: number, exit: number}}",
            )
            return None
        before = len(self.errors)
        entries = self._entries(node, "levels", LEVEL_NAMES)
        found: dict[str, tuple[Threshold, Node, Node]] = {}
        for name in LEVEL_NAMES:  # IV → I, whatever order the file uses
            if name in entries:
                got = self._threshold(name, entries[name][1])
                if got is not None:
                    found[name] = got
        previous: tuple[str, Threshold] | None = None
        for name, (threshold, enter_node, exit_node) in found.items():
            if previous is not None:
                low_name, low = previous
                for what, value, low_value, at in (
                    ("enter", threshold.enter, low.enter, enter_node),
                    ("exit", threshold.exit, low.exit, exit_node),
                ):
                    if value < low_value:
                        self._error(
                            node_line(at),
                            f"level {name} {what} {value:g} is below level "
                            f"{low_name} {what} {low_value:g}; thresholds must not "
                            "decrease with severity (IV <= III <= II <= I)",
                        )
            previous = (name, threshold)
        if len(self.errors) > before:
            return None
        return {name: got[0] for name, got in found.items()}

    def _threshold(self, name: str, node: Node) -> tuple[Threshold, Node, Node] | None:
        """Read one level's ``{enter, exit}``; return it with the nodes of both values."""
        if not isinstance(node, MappingNode):
            self._error(
                node_line(node), f"level {name} must be a mapping {{enter: number, exit: number}}"
            )
            return None
        entries = self._entries(node, f"level {name}", ("enter", "exit"))
        values: dict[str, float] = {}
        for key in ("enter", "exit"):
            if key not in entries:
                self._error(node_line(node), f"level {name} is missing {key!r}")
                continue
            value = node_value(entries[key][1])
            if not is_number(value):
                self._error(
                    node_line(entries[key][1]),
                    f"level {name} {key} must be a number, got {value!r}",
                )
                continue
            values[key] = float(value)
        if len(values) < 2:
            return None
        if values["exit"] > values["enter"]:
            self._error(
                node_line(entries["exit"][1]),
                f"level {name} exit {values['exit']:g} is "
                f"above its enter {values['enter']:g}; exit must be <= enter (the "
                "value must fall back below exit to leave the level)",
            )
            return None
        return Threshold(values["enter"], values["exit"]), entries["enter"][1], entries["exit"][1]
