"""Recognition rules as versioned configuration: rule sets, and each city's versions of them.

A directory of YAML files (``deploy/recognition/``) holds ``rule_sets`` (a set of rules per
target group, with parameters, a version and the dates it is in force) and ``cities`` (for
each city code, its versions: which rule set it applies, its own parameters, from when, and
the source it cites, or "EAMS default")::

    rule_sets:
      - id: shandong-default
        version: 1
        effective_from: 2024-01-01
        parameters: {long_term_unemployed_days: 365, ...}
        groups:
          employment_difficulty:
            requires: [working_age, not employed]
            rules:
              - id: ed.long_term_unemployed
                title: 连续失业一年以上
                when: [unemployed_days >= $long_term_unemployed_days]
    cities:
      "370100":
        name: 济南市
        versions:
          - {version: 1, effective_from: 2024-01-01, rule_set: shandong-default@1}

A person belongs to a group on a day when every ``requires`` condition holds and every
``when`` condition of at least one rule holds. Every problem of a file is reported as
``path:line: where: message`` (:func:`lint_recognition`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cases.conditions import Condition, ConditionSyntaxError, parse_condition
from cases.facts import DERIVED_FACTS, FACT_NAMES
from cases.versions import check_versions
from events.errors import ConfigError
from events.vocabulary import DifficultyReason, TargetGroup
from events.yaml_lines import Loc, YamlLines, YamlSyntaxError, problems

__all__ = [
    "CityVersion",
    "GroupRules",
    "Resolved",
    "RuleBook",
    "RuleSet",
    "RuleSpec",
    "RulesError",
    "lint_recognition",
    "load_recognition",
]

#: Every name a condition may read.
READABLE: frozenset[str] = FACT_NAMES | frozenset(DERIVED_FACTS)
_ID = r"^[a-z0-9][a-z0-9_.-]*$"


class RulesError(ConfigError):
    """Recognition rules that cannot be used; the message lists every problem (file:line)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Spec):
    """One way into a group: every ``when`` condition must hold."""

    id: Annotated[str, Field(pattern=_ID, max_length=64)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    title_en: Annotated[str, Field(max_length=200)] | None = None
    reason: DifficultyReason | None = None
    """The difficulty reason a recognition by this rule records (employment difficulty)."""
    when: Annotated[tuple[str, ...], Field(max_length=32)] = ()


class GroupRules(_Spec):
    """A group's rules: ``requires`` all hold, and then one of ``rules``."""

    requires: Annotated[tuple[str, ...], Field(max_length=32)] = ()
    rules: Annotated[tuple[RuleSpec, ...], Field(min_length=1, max_length=64)]
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    """How long a recognition holds before it must be judged again (none: until revoked)."""


class RuleSet(_Spec):
    """A versioned set of rules per target group, with the parameters its conditions use."""

    id: Annotated[str, Field(pattern=_ID, max_length=64)]
    version: Annotated[int, Field(ge=1, le=10_000)]
    effective_from: dt.date
    effective_to: dt.date | None = None
    source: Annotated[str, Field(min_length=1, max_length=500)]
    parameters: dict[str, int | float | str | bool] = Field(default_factory=dict)
    groups: dict[TargetGroup, GroupRules]

    @property
    def ref(self) -> str:
        """``id@version``: how a city and a decision name it."""
        return f"{self.id}@{self.version}"

    @model_validator(mode="after")
    def _dates(self) -> RuleSet:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self


class CityVersion(_Spec):
    """One version of a city's rules: the rule set it applies, its own parameters, its dates
    and what it cites."""

    version: Annotated[int, Field(ge=1, le=10_000)]
    effective_from: dt.date
    effective_to: dt.date | None = None
    rule_set: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*@\d+$", max_length=80)]
    parameters: dict[str, int | float | str | bool] = Field(default_factory=dict)
    source: Annotated[str, Field(min_length=1, max_length=500)] = "EAMS default"

    def covers(self, day: dt.date) -> bool:
        """Whether the version is in force on ``day``."""
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


class City(_Spec):
    """A city's versions of its recognition rules."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    versions: Annotated[tuple[CityVersion, ...], Field(min_length=1, max_length=100)]


class RulesDoc(_Spec):
    """One file of the rules directory."""

    rule_sets: tuple[RuleSet, ...] = ()
    cities: dict[Annotated[str, Field(pattern=r"^\d{4}00$")], City] = Field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """The rules in force for one city on one day: what a decision applies and records."""

    ref: str
    """The city's version (``370100@1``): what decisions record."""
    rule_set: RuleSet
    parameters: Mapping[str, Any]
    source: str
    conditions: Mapping[str, Condition]
    """Every condition text of the rule set, parsed."""
    memo: dict[tuple[Any, ...], Any] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    """The recognition engine's results of a condition for one value of its fact (a
    condition reads one fact: :mod:`cases.recognition`); one per city version, kept by the
    rule book."""

    def condition(self, text: str) -> Condition:
        """The parsed condition of ``text`` (parsed at load: never fails here)."""
        return self.conditions[text]


class RuleBook:
    """Every rule set and city version of a rules directory."""

    def __init__(self, rule_sets: Mapping[str, RuleSet], cities: Mapping[str, City]) -> None:
        self.rule_sets = dict(rule_sets)
        self.cities = dict(cities)
        self._conditions: dict[str, dict[str, Condition]] = {
            ref: _parse_all(rs) for ref, rs in self.rule_sets.items()
        }
        self._resolved: dict[tuple[str, int], Resolved] = {}

    def version(self, ref: str) -> Resolved:
        """A city's version by its reference (``370100@1``); raises KeyError if unknown."""
        city, _, number = ref.partition("@")
        for version in self.cities[city].versions:
            if str(version.version) == number:
                return self._resolve(city, version)
        raise KeyError(ref)

    def resolve(self, city: str, day: dt.date) -> Resolved | None:
        """The rules of ``city`` in force on ``day`` (None: the city has none that day)."""
        entry = self.cities.get(city)
        if entry is None:
            return None
        found = [v for v in entry.versions if v.covers(day)]
        if not found:
            return None
        return self._resolve(city, max(found, key=lambda v: v.effective_from))

    def _resolve(self, city: str, version: CityVersion) -> Resolved:
        key = (city, version.version)
        found = self._resolved.get(key)
        if found is None:
            rule_set = self.rule_sets[version.rule_set]
            found = self._resolved[key] = Resolved(
                ref=f"{city}@{version.version}",
                rule_set=rule_set,
                parameters={**rule_set.parameters, **version.parameters},
                source=version.source,
                conditions=self._conditions[version.rule_set],
            )
        return found


def _texts(rule_set: RuleSet) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for group, rules in rule_set.groups.items():
        out += [(("groups", group.value, "requires", i), t) for i, t in enumerate(rules.requires)]
        for j, rule in enumerate(rules.rules):
            out += [
                (("groups", group.value, "rules", j, "when", i), t) for i, t in enumerate(rule.when)
            ]
    return out


def _parse_all(rule_set: RuleSet) -> dict[str, Condition]:
    return {text: parse_condition(text, READABLE) for _, text in _texts(rule_set)}


_NESTED: dict[str, tuple[type[BaseModel], int]] = {
    "rule_sets": (RuleSet, 2),
    "groups": (GroupRules, 2),
    "rules": (RuleSpec, 2),
    "cities": (City, 2),
    "versions": (CityVersion, 2),
}


_MODELS = frozenset({"RuleSet", "GroupRules", "RuleSpec", "City", "CityVersion"})


def _read(path: Path) -> tuple[RulesDoc | None, YamlLines | None, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, None, [f"{path}:1: cannot read the rules: {exc}"]
    try:
        lines = YamlLines(path, text)
    except YamlSyntaxError as exc:
        return None, None, [str(exc)]
    if not isinstance(lines.doc, dict):
        return None, lines, [f"{path}:1: a rules file is a YAML object (rule_sets:, cities:)"]
    try:
        return RulesDoc.model_validate(lines.doc), lines, []
    except ValidationError as exc:
        return None, lines, problems(exc, lines, RulesDoc, _NESTED, _MODELS)


def _check_set(rule_set: RuleSet, at: Loc, lines: YamlLines) -> list[str]:
    out: list[str] = []
    for loc, text in _texts(rule_set):
        try:
            condition = parse_condition(text, READABLE)
        except ConditionSyntaxError as exc:
            out.append(lines.say((*at, *loc), f"{text!r}: {exc}"))
            continue
        if condition.parameter is not None and condition.parameter not in rule_set.parameters:
            out.append(
                lines.say(
                    (*at, *loc),
                    f"{text!r} reads ${condition.parameter}, which the rule set's "
                    "parameters do not define; add it under parameters:",
                )
            )
    seen: dict[str, Loc] = {}
    for group, rules in rule_set.groups.items():
        for j, rule in enumerate(rules.rules):
            loc = (*at, "groups", group.value, "rules", j, "id")
            if rule.id in seen:
                first = lines.line_of(seen[rule.id])
                out.append(
                    lines.say(loc, f"rule id {rule.id!r} is used twice (first at line {first})")
                )
            seen[rule.id] = loc
    return out


def lint_recognition(directory: Path, *, cities: Mapping[str, str] | None = None) -> list[str]:
    """Every problem of the rules under ``directory`` (``*.yaml``) as ``file:line: where:
    message``; with ``cities`` (code -> name), also a city code the reference does not know."""
    return _load(directory, cities)[1]


def load_recognition(directory: Path, *, cities: Mapping[str, str] | None = None) -> RuleBook:
    """Read the rules directory; raise :class:`RulesError` listing every problem."""
    book, found = _load(directory, cities)
    if found:
        more = f"\n(and {len(found) - 20} more)" if len(found) > 20 else ""
        raise RulesError("\n".join(found[:20]) + more)
    return book


def _load(directory: Path, cities: Mapping[str, str] | None) -> tuple[RuleBook, list[str]]:
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        return RuleBook({}, {}), [f"{directory}: no *.yaml recognition rules there"]
    found: list[str] = []
    rule_sets: dict[str, tuple[RuleSet, str]] = {}
    city_entries: dict[str, tuple[City, YamlLines, str]] = {}
    for path in files:
        doc, lines, bad = _read(path)
        found += bad
        if doc is None or lines is None:
            continue
        for i, rule_set in enumerate(doc.rule_sets):
            at: Loc = ("rule_sets", i)
            bad_set = _check_set(rule_set, at, lines)
            found += bad_set
            if bad_set:
                continue  # its conditions cannot be parsed: it is left out of the book
            if rule_set.ref in rule_sets:
                found.append(
                    lines.say(
                        (*at, "version"),
                        f"{rule_set.ref} is defined twice (also in {rule_sets[rule_set.ref][1]})",
                    )
                )
            rule_sets[rule_set.ref] = (rule_set, f"{path}:{lines.line_of(at)}")
        for code, city in doc.cities.items():
            if code in city_entries:
                found.append(
                    lines.say(
                        ("cities", code),
                        f"city {code} is defined twice (also in {city_entries[code][2]})",
                    )
                )
            city_entries[code] = (city, lines, f"{path}:{lines.line_of(('cities', code))}")
    for code, (city, lines, _) in city_entries.items():
        if cities is not None and code not in cities:
            found.append(
                lines.say(("cities", code), f"{code} is not a city of the region reference")
            )
        found += check_versions(
            code, city.versions, lines, {r: rs for r, (rs, _) in rule_sets.items()}, "rule_set"
        )
    book = RuleBook(
        {ref: rs for ref, (rs, _) in rule_sets.items()}, {c: e[0] for c, e in city_entries.items()}
    )
    return book, found
