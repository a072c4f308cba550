"""Read playbook definition files node by node, collecting every problem with its line.

The YAML is composed (``yaml.compose``), not loaded, so each key and value keeps its
``start_mark``; a problem is reported at the line of the key or value at fault, as
``alerting.rule_reader`` does for rules. One ``PlaybookReader`` reads several files so
duplicate playbook ids are found across the library. A playbook with any problem is left
out of ``playbooks``; the checks go on so that one run lists every problem.

Checks, in reading order: the YAML syntax; the schema (required and unknown keys, with a
"did you mean"; value types); ids; the trigger (levels, indicators when known, disaster
kinds, scope level and ``within`` region); activation (``automatic`` only for drills);
roles; steps (duplicate ids, owners, deadlines, checklists, actions); then the references
between them (``depends_on`` ids, cycles, subsidy batches behind an approval) and the
variants (all four levels, every parameter the actions use, deadline overrides).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from alerting.durations import parse_duration
from alerting.rule_nodes import FileReader, is_number, node_line, node_value, suggest
from events.severity import LEVEL_NAMES, describe_levels
from events.vocabulary import DisasterKind
from playbooks.errors import PlaybookError
from playbooks.model import (
    ACTION_KINDS,
    ACTION_PARAMETERS,
    ACTIVATION_MODES,
    SCOPE_LEVELS,
    VARIANT_PARAMETERS,
    Action,
    Playbook,
    Step,
    Trigger,
    TriggerScope,
    Variant,
)

__all__ = ["PlaybookReader"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_LEVEL_HELP = describe_levels(most_severe_first=True)
_PLAYBOOK_REQUIRED = ("id", "title", "trigger", "activation", "roles", "variants", "steps")
_PLAYBOOK_KEYS = (*_PLAYBOOK_REQUIRED, "description", "drill")
_TRIGGER_KEYS = ("alert_level_at_least", "indicators", "disaster_kinds", "scope")
_STEP_REQUIRED = ("id", "title", "owner", "deadline")
_STEP_KEYS = (*_STEP_REQUIRED, "depends_on", "checklist", "action", "approval", "description")
_VARIANT_KEYS = (*VARIANT_PARAMETERS, "deadlines")
_DISASTER_KINDS = tuple(k.value for k in DisasterKind)

_Entries = dict[str, tuple[Node, Node]]


def _suggest(name: str, known: Collection[str], *, list_all: bool = True) -> str:
    """``alerting.rule_nodes.suggest``, preferring a name that differs only in case."""
    same = [k for k in known if k.lower() == name.lower()]
    if same:
        return f"did you mean {same[0]!r}?"
    return suggest(name, known, list_all=list_all)


@dataclass
class _StepDraft:
    """A step as read, with the nodes later reference checks report at."""

    node: Node
    fields: dict[str, Any] = field(default_factory=dict)
    owner_node: Node | None = None
    depends: list[tuple[str, Node]] = field(default_factory=list)
    notify_roles: list[tuple[str, Node]] = field(default_factory=list)
    action_node: Node | None = None


class PlaybookReader(FileReader[PlaybookError]):
    """Turns definition texts into ``Playbook`` values and a list of ``PlaybookError``s.

    ``reference`` (optional) has ``get(code)`` returning a region with ``level``, or None
    for an unknown code; ``known_indicators`` (optional) are the indicator names a
    trigger may list (``alerting.indicator_names.INDICATOR_NAMES``).
    """

    def __init__(
        self, *, reference: Any | None = None, known_indicators: Collection[str] | None = None
    ) -> None:
        super().__init__(PlaybookError)
        self.reference = reference
        self.known_indicators = None if known_indicators is None else frozenset(known_indicators)
        self.playbooks: list[Playbook] = []
        self._ids: dict[str, str] = {}  # playbook id -> "file:line" of its first definition

    # -- nodes -----------------------------------------------------------------------

    def _hint(self, key: str, allowed: Collection[str]) -> str:
        return _suggest(key, allowed, list_all=False)

    def _mapping(self, node: Node, where: str, allowed: Collection[str]) -> _Entries | None:
        """Return the entries of ``node`` if it is a mapping, else report and return None."""
        if not isinstance(node, MappingNode):
            self._error(node_line(node), f"{where} must be a mapping of {', '.join(allowed)}")
            return None
        return self._entries(node, where, allowed)

    def _require(self, entries: _Entries, node: Node, where: str, keys: Collection[str]) -> None:
        for key in keys:
            if key not in entries:
                self._error(node_line(node), f"{where} is missing the required key {key!r}")

    def _text(self, node: Node, what: str) -> str | None:
        """Return a non-empty string value, or report it and return None."""
        value = node_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
        self._error(node_line(node), f"{what} must be a non-empty text, got {value!r}")
        return None

    def _name(self, node: Node, what: str) -> str | None:
        """Return an id-like name (``[a-z0-9][a-z0-9_.-]*``), or report it."""
        value = self._text(node, what)
        if value is not None and not _ID.match(value):
            self._error(
                node_line(node),
                f"bad {what} {value!r}: use lower-case letters, digits and "
                "'_', '.', '-', starting with a letter or digit",
            )
            return None
        return value

    def _list(self, node: Node, what: str) -> list[Node] | None:
        """Return the items of a non-empty list, or report it and return None."""
        if not isinstance(node, SequenceNode) or not node.value:
            self._error(
                node_line(node), f"{what} must be a non-empty list ([a, b]); omit it if unused"
            )
            return None
        return list(node.value)

    def _names(self, node: Node, what: str) -> list[tuple[str, Node]]:
        """Return the names of a list with the node of each, reporting bad items."""
        items = self._list(node, what) or []
        return [(n, item) for item in items if (n := self._name(item, f"an item of {what}"))]

    def _bool(self, node: Node, what: str) -> bool | None:
        value = node_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool):
            return value
        self._error(node_line(node), f"{what} must be true or false, got {value!r}")
        return None

    def _duration(self, node: Node, what: str, *, positive: bool) -> timedelta | None:
        raw = node_value(node) if isinstance(node, ScalarNode) else node
        try:
            value = parse_duration(raw)
        except ValueError as exc:
            self._error(node_line(node), f"{what}: {exc}")
            return None
        if positive and not value:
            self._error(node_line(node), f"{what} must be longer than zero, e.g. '24h'")
            return None
        return value

    def _level(self, node: Node, what: str) -> str | None:
        value = node_value(node) if isinstance(node, ScalarNode) else None
        if value in LEVEL_NAMES:
            return str(value)
        self._error(node_line(node), f"{what} {value!r} is not a level; use {_LEVEL_HELP}")
        return None

    # -- file and playbook ---------------------------------------------------------------

    def _read_root(self, text: str) -> None:
        root = self._compose(text, "one key, 'playbook:'")
        if root is None:
            return
        entries = self._entries(root, "the top level", ("playbook",))
        if "playbook" not in entries:
            self._error(node_line(root), "missing the top-level key 'playbook:' (one playbook)")
            return
        playbook = self._playbook(entries["playbook"][1])
        if playbook is not None:
            self.playbooks.append(playbook)

    def _playbook(self, node: Node) -> Playbook | None:
        before = len(self.errors)
        entries = self._mapping(node, "the playbook", _PLAYBOOK_KEYS)
        if entries is None:
            return None
        self._require(entries, node, "the playbook", _PLAYBOOK_REQUIRED)
        value = {key: value_node for key, (_, value_node) in entries.items()}
        got: dict[str, Any] = {}
        readers: dict[str, Callable[[Node], Any]] = {
            "id": self._playbook_id,
            "title": lambda n: self._text(n, "title"),
            "description": lambda n: self._text(n, "description"),
            "trigger": self._trigger,
            "activation": self._activation,
            "drill": lambda n: self._bool(n, "drill"),
            "roles": self._roles,
        }
        for key, read in readers.items():
            if key in value:
                got[key] = read(value[key])
        if got.get("activation") == "automatic" and got.get("drill") is not True:
            self._error(
                node_line(value["activation"]),
                "activation 'automatic' is allowed only for drills; set 'drill: true' or "
                "use 'activation: proposed' (the incident team activates the run)",
            )
        roles: dict[str, str] | None = got.get("roles")
        drafts = self._steps(value["steps"]) if "steps" in value else []
        steps = self._check_steps(drafts, roles)
        if "variants" in value:
            got["variants"] = self._variants(entries["variants"][0], value["variants"], drafts)
        if len(self.errors) > before or steps is None:
            return None
        return Playbook(
            id=got["id"],
            title=got["title"],
            description=got.get("description"),
            trigger=got["trigger"],
            activation=got["activation"],
            drill=bool(got.get("drill")),
            roles=roles or {},
            variants=got["variants"],
            steps=steps,
            file=self._file,
            line=node_line(node),
        )

    def _playbook_id(self, node: Node) -> str | None:
        value = self._name(node, "playbook id")
        if value is None:
            return None
        if value in self._ids:
            self._error(
                node_line(node),
                f"duplicate playbook id {value!r} (first defined at {self._ids[value]}); "
                "give each playbook its own id",
            )
            return None
        self._ids[value] = f"{self._file}:{node_line(node)}"
        return value

    def _activation(self, node: Node) -> str | None:
        value = node_value(node) if isinstance(node, ScalarNode) else None
        if value in ACTIVATION_MODES:
            return str(value)
        self._error(
            node_line(node),
            f"activation {value!r} is not one of {', '.join(ACTIVATION_MODES)} "
            "(proposed: the incident team activates; automatic: drills only)",
        )
        return None

    def _roles(self, node: Node) -> dict[str, str] | None:
        if not isinstance(node, MappingNode) or not node.value:
            self._error(
                node_line(node), "roles must be a non-empty mapping of role names to titles"
            )
            return None
        roles: dict[str, str] = {}
        for key_node, value_node in node.value:
            name = self._name(key_node, "role name")
            title = self._text(value_node, f"the title of role {name or '?'}")
            if name is not None and name in roles:
                self._error(node_line(key_node), f"duplicate role {name!r}; keep one")
            elif name is not None and title is not None:
                roles[name] = title
        return roles

    # -- trigger ---------------------------------------------------------------------

    def _trigger(self, node: Node) -> Trigger | None:
        before = len(self.errors)
        entries = self._mapping(node, "trigger", _TRIGGER_KEYS)
        if entries is None:
            return None
        self._require(entries, node, "trigger", ("alert_level_at_least", "scope"))
        level = scope = None
        indicators: list[str] = []
        kinds: list[str] = []
        if "alert_level_at_least" in entries:
            level = self._level(entries["alert_level_at_least"][1], "alert_level_at_least")
        if "indicators" in entries:
            for name, item in self._names(entries["indicators"][1], "indicators"):
                known = self.known_indicators
                if known is not None and name not in known:
                    self._error(
                        node_line(item), f"unknown indicator {name!r}; {_suggest(name, known)}"
                    )
                indicators.append(name)
        if "disaster_kinds" in entries:
            for item in self._list(entries["disaster_kinds"][1], "disaster_kinds") or []:
                kind = node_value(item) if isinstance(item, ScalarNode) else None
                if kind not in _DISASTER_KINDS:
                    self._error(
                        node_line(item),
                        f"unknown disaster kind {kind!r}; use one of {', '.join(_DISASTER_KINDS)}",
                    )
                else:
                    kinds.append(str(kind))
        if "scope" in entries:
            scope = self._scope(entries["scope"][1])
        if len(self.errors) > before or level is None or scope is None:
            return None
        return Trigger(level, scope, tuple(indicators), tuple(kinds))

    def _scope(self, node: Node) -> TriggerScope | None:
        before = len(self.errors)
        entries = self._mapping(node, "scope", ("level", "within"))
        if entries is None:
            return None
        self._require(entries, node, "scope", ("level",))
        level = within = None
        if "level" in entries:
            level = node_value(entries["level"][1])
            if level not in SCOPE_LEVELS:
                self._error(
                    node_line(entries["level"][1]),
                    f"unknown scope level {level!r}; use one of {', '.join(SCOPE_LEVELS)}",
                )
        if "within" in entries:
            within = self._region(entries["within"][1], level)
        if len(self.errors) > before or not isinstance(level, str):
            return None
        return TriggerScope(level=level, within=within)

    def _region(self, node: Node, level: Any) -> str | None:
        """Return a ``within`` region code, checked against the reference when given."""
        value = node_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self._error(node_line(node), "within must be a region code such as '371300'")
            return None
        if self.reference is None:
            return value
        region = self.reference.get(value)
        if region is None:
            self._error(
                node_line(node),
                f"within: unknown region code {value!r}; use a code of the region "
                "reference (GB/T 2260 for Shandong, e.g. '371300' for Linyi)",
            )
            return None
        outer = getattr(region, "level", None)
        if (
            level in SCOPE_LEVELS
            and outer in SCOPE_LEVELS
            and SCOPE_LEVELS.index(outer) < SCOPE_LEVELS.index(level)
        ):
            self._error(
                node_line(node),
                f"within {value!r} is a {outer}; no {level} lies within it, so pick a "
                f"region at or above the scope level ({level})",
            )
            return None
        return value

    # -- steps -----------------------------------------------------------------------

    def _steps(self, node: Node) -> list[_StepDraft]:
        if not isinstance(node, SequenceNode) or not node.value:
            self._error(
                node_line(node), "steps must be a non-empty list of step mappings ('- id: …')"
            )
            return []
        drafts: list[_StepDraft] = []
        first: dict[str, int] = {}
        for item in node.value:
            draft = self._step(item)
            if draft is None:
                continue
            step_id = draft.fields.get("id")
            if step_id is not None and step_id in first:
                self._error(
                    node_line(item),
                    f"duplicate step id {step_id!r} (first at line {first[step_id]}); "
                    "give each step its own id",
                )
                continue
            if step_id is not None:
                first[step_id] = node_line(item)
            drafts.append(draft)
        return drafts

    def _step(self, node: Node) -> _StepDraft | None:
        entries = self._mapping(node, "a step", _STEP_KEYS)
        if entries is None:
            return None
        self._require(entries, node, "a step", _STEP_REQUIRED)
        draft = _StepDraft(node=node)
        got = draft.fields
        value = {key: value_node for key, (_, value_node) in entries.items()}
        if "id" in value:
            got["id"] = self._name(value["id"], "step id")
        if "title" in value:
            got["title"] = self._text(value["title"], "step title")
        if "description" in value:
            got["description"] = self._text(value["description"], "step description")
        if "owner" in value:
            draft.owner_node = value["owner"]
            got["owner"] = self._name(value["owner"], "step owner")
        if "deadline" in value:
            got["deadline"] = self._duration(value["deadline"], "deadline", positive=True)
        if "depends_on" in value:
            draft.depends = self._names(value["depends_on"], "depends_on")
        if "checklist" in value:
            items = self._list(value["checklist"], "checklist") or []
            got["checklist"] = tuple(
                t for t in (self._text(i, "a checklist item") for i in items) if t
            )
        if "approval" in value:
            got["approval"] = self._bool(value["approval"], "approval")
        if "action" in value:
            draft.action_node = value["action"]
            got["action"] = self._action(value["action"], draft)
            if got.get("approval"):
                self._error(
                    node_line(entries["action"][0]),
                    "an approval step is a manual gate and runs no action; move the action "
                    "to a step that depends on this one",
                )
        return draft

    def _action(self, node: Node, draft: _StepDraft) -> Action | None:
        before = len(self.errors)
        entries = self._mapping(node, "action", ("kind", "roles", "message"))
        if entries is None:
            return None
        self._require(entries, node, "action", ("kind",))
        kind = None
        if "kind" in entries:
            kind = node_value(entries["kind"][1])
            if kind not in ACTION_KINDS:
                hint = _suggest(str(kind), ACTION_KINDS, list_all=False)
                self._error(
                    node_line(entries["kind"][1]),
                    f"unknown action kind {kind!r}; {hint + ' ' if hint else ''}"
                    f"use one of {', '.join(ACTION_KINDS)}",
                )
                kind = None
        for key in ("roles", "message"):
            if key in entries and kind is not None and kind != "notify":
                self._error(
                    node_line(entries[key][0]),
                    f"{key!r} applies only to 'notify' actions, not {kind!r}; remove it",
                )
        message = None
        if "roles" in entries:
            draft.notify_roles = self._names(entries["roles"][1], "action roles")
        if "message" in entries:
            message = self._text(entries["message"][1], "action message")
        if len(self.errors) > before or kind is None:
            return None
        roles = tuple(name for name, _ in draft.notify_roles)
        return Action(kind=str(kind), roles=roles, message=message)

    def _check_steps(
        self, drafts: list[_StepDraft], roles: dict[str, str] | None
    ) -> tuple[Step, ...] | None:
        """Check the references of the steps; return them when all are sound.

        ``roles`` is None when the roles themselves could not be read (not checked then).
        """
        before = len(self.errors)
        ids = {d.fields["id"]: d for d in drafts if d.fields.get("id")}
        for draft in drafts:
            owner = draft.fields.get("owner")
            references = [(owner, draft.owner_node, "step owner")] if owner else []
            references += [(name, n, "notify role") for name, n in draft.notify_roles]
            for name, at, what in references:
                if roles is not None and name not in roles and at is not None:
                    self._error(
                        node_line(at),
                        f"{what} {name!r} is not a role of this playbook; {_suggest(name, roles)}",
                    )
            for dep, at in draft.depends:
                if dep not in ids:
                    self._error(
                        node_line(at),
                        f"depends_on {dep!r}: no step has this id; {_suggest(dep, ids)}",
                    )
        self._check_cycles(drafts, ids)
        for draft in drafts:
            action = draft.fields.get("action")
            if action is not None and action.kind == "subsidy_batch":
                gated = self._behind_approval(draft, ids)
                if not gated:
                    self._error(
                        node_line(draft.action_node or draft.node),
                        f"step {draft.fields.get('id')!r} pays a subsidy batch but depends on "
                        "no approval step; add a step with 'approval: true' to its depends_on "
                        "(directly or through other steps)",
                    )
        if len(self.errors) > before or not drafts:
            return None
        steps: list[Step] = []
        for draft in drafts:
            got = draft.fields
            if any(got.get(k) is None for k in _STEP_REQUIRED):
                return None
            steps.append(
                Step(
                    id=got["id"],
                    title=got["title"],
                    owner=got["owner"],
                    deadline=got["deadline"],
                    depends_on=tuple(dep for dep, _ in draft.depends),
                    checklist=got.get("checklist", ()),
                    action=got.get("action"),
                    approval=bool(got.get("approval")),
                    description=got.get("description"),
                    line=node_line(draft.node),
                )
            )
        return tuple(steps)

    def _check_cycles(self, drafts: list[_StepDraft], ids: dict[str, _StepDraft]) -> None:
        """Report each dependency cycle once, naming it (``a -> b -> a``)."""
        state: dict[str, int] = {}  # 1 visiting, 2 done
        reported: set[frozenset[str]] = set()

        def visit(step_id: str, path: list[str]) -> None:
            state[step_id] = 1
            path.append(step_id)
            for dep, at in ids[step_id].depends:
                if dep not in ids:
                    continue
                if state.get(dep) == 1:
                    cycle = [*path[path.index(dep) :], dep]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        self._error(
                            node_line(at),
                            f"dependency cycle {' -> '.join(cycle)}; no step of it could "
                            "ever start, so remove one of these depends_on entries",
                        )
                elif dep not in state:
                    visit(dep, path)
            path.pop()
            state[step_id] = 2

        for draft in drafts:
            step_id = draft.fields.get("id")
            if step_id in ids and step_id not in state:
                visit(step_id, [])

    def _behind_approval(self, draft: _StepDraft, ids: dict[str, _StepDraft]) -> bool:
        """Return whether an approval step is among the (transitive) dependencies."""
        seen: set[str] = set()
        todo = [dep for dep, _ in draft.depends]
        while todo:
            dep = todo.pop()
            if dep in seen or dep not in ids:
                continue
            seen.add(dep)
            if ids[dep].fields.get("approval"):
                return True
            todo.extend(d for d, _ in ids[dep].depends)
        return False

    # -- variants --------------------------------------------------------------------

    def _variants(
        self, key_node: Node, node: Node, drafts: list[_StepDraft]
    ) -> dict[str, Variant] | None:
        before = len(self.errors)
        entries = self._mapping(node, "variants", LEVEL_NAMES)
        if entries is None:
            return None
        missing = [name for name in reversed(LEVEL_NAMES) if name not in entries]
        if missing:
            self._error(
                node_line(key_node),
                f"variants lacks {', '.join(missing)}; every playbook needs all four "
                "severity variants I, II, III and IV",
            )
        # parameter -> (step id, action kind, line) of the first action that uses it
        used: dict[str, tuple[str, str, int]] = {}
        for draft in drafts:
            action = draft.fields.get("action")
            if action is None:
                continue
            for name in ACTION_PARAMETERS[action.kind]:
                line = node_line(draft.action_node or draft.node)
                used.setdefault(name, (str(draft.fields.get("id")), action.kind, line))
        step_ids = {str(d.fields["id"]) for d in drafts if d.fields.get("id")}
        variants: dict[str, Variant] = {}
        for level in LEVEL_NAMES:  # IV -> I, whatever order the file uses
            if level in entries:
                level_key, level_node = entries[level]
                variant = self._variant(level, level_key, level_node, used, step_ids)
                if variant is not None:
                    variants[level] = variant
        if len(self.errors) > before:
            return None
        return variants

    def _variant(
        self,
        level: str,
        key_node: Node,
        node: Node,
        used: dict[str, tuple[str, str, int]],
        step_ids: set[str],
    ) -> Variant | None:
        before = len(self.errors)
        entries = self._mapping(node, f"variant {level}", _VARIANT_KEYS)
        if entries is None:
            return None
        for name, (step_id, kind, line) in used.items():
            if name not in entries:
                self._error(
                    node_line(key_node),
                    f"variant {level} lacks {name!r}, which the {kind} action of step "
                    f"{step_id!r} (line {line}) uses; add it to every variant",
                )
        got: dict[str, Any] = {}
        value = {key: value_node for key, (_, value_node) in entries.items()}
        where = f"variant {level}"
        if "welfare_posts" in value:
            posts = node_value(value["welfare_posts"])
            if isinstance(posts, int) and not isinstance(posts, bool) and posts >= 1:
                got["welfare_posts"] = posts
            else:
                self._error(
                    node_line(value["welfare_posts"]),
                    f"{where} welfare_posts must be a whole number >= 1, got {posts!r}",
                )
        if "subsidy_amount" in value:
            got["subsidy_amount"] = self._amount(value["subsidy_amount"], where)
        if "enrolment_grace" in value:
            got["enrolment_grace"] = self._duration(
                value["enrolment_grace"], f"{where} enrolment_grace", positive=False
            )
        if "job_fair_within" in value:
            got["job_fair_within"] = self._duration(
                value["job_fair_within"], f"{where} job_fair_within", positive=True
            )
        deadlines: dict[str, timedelta] = {}
        if "deadlines" in value:
            deadlines = self._deadlines(value["deadlines"], where, step_ids)
        if len(self.errors) > before:
            return None
        return Variant(level=level, deadlines=deadlines, line=node_line(key_node), **got)

    def _amount(self, node: Node, where: str) -> Decimal | None:
        value = node_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, int | float) and is_number(value) and value > 0:
            amount = Decimal(str(value))
            exponent = amount.as_tuple().exponent
            if isinstance(exponent, int) and exponent >= -2:
                return amount
        self._error(
            node_line(node),
            f"{where} subsidy_amount must be a number of yuan above zero with at most two "
            f"decimals (e.g. 1500), got {value!r}",
        )
        return None

    def _deadlines(self, node: Node, where: str, step_ids: set[str]) -> dict[str, timedelta]:
        if not isinstance(node, MappingNode) or not node.value:
            self._error(
                node_line(node), f"{where} deadlines must be a mapping of step ids to durations"
            )
            return {}
        out: dict[str, timedelta] = {}
        for key_node, value_node in node.value:
            step_id = node_value(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(step_id, str) or step_id not in step_ids:
                self._error(
                    node_line(key_node),
                    f"{where} deadlines: no step has the id {step_id!r}; "
                    f"{_suggest(str(step_id), step_ids)}",
                )
                continue
            deadline = self._duration(value_node, f"{where} deadline of {step_id}", positive=True)
            if deadline is not None:
                out[step_id] = deadline
        return out
