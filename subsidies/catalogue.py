"""The policy catalogue as versioned configuration: policy sets, and each city's versions of
them per year.

A directory of YAML files (``deploy/policies/``) holds ``policy_sets`` (the subsidies, loans
and allowances a set offers, with parameters, a version and the dates it is in force) and
``cities`` (for each city, its versions: the set it applies, its own parameters such as the
minimum wage, from when to when, and the source it cites, or "EAMS default")::

    policy_sets:
      - id: shandong-default
        version: 2026
        effective_from: 2026-01-01
        effective_to: 2026-12-31
        parameters: {minimum_wage: 2100, job_search_one_time: 1000, ...}
        policies:
          - id: job_search_one_time
            kind: job_search_one_time
            title: 一次性求职创业补贴
            amount: {parameter: job_search_one_time}
            period: {once: true}
            requires: [in_low_income_graduate]
            incompatible_with: []

A policy's ``requires`` must all hold and, when it has ``rules``, one rule's ``when`` too,
in the condition language of the recognition rules (:mod:`cases.conditions`), over the
person's facts, the groups they are recognised in (``in_<group>``) and what the application
states (:mod:`events.payloads_money`). The amount is a ``fixed`` sum, a ``parameter`` (the
minimum wage …) or what the application ``claimed`` (contributions paid, a loan's
principal, the rent), optionally capped before (``base_cap``) and after (``cap``) a
``share``. The period is ``once`` or ``months`` (at most that many monthly entitlements),
with ``until_retirement_within_years``: a person that close to retirement is paid until it.
Every problem of a file is ``path:line: where: message`` (:func:`lint_catalogue`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cases.conditions import Condition, ConditionSyntaxError, parse_condition
from cases.rules import READABLE
from cases.versions import check_versions
from events.errors import ConfigError
from events.payloads_money import ApplicationFacts
from events.vocabulary import SubsidyKind, TargetGroup
from events.yaml_lines import Loc, YamlLines, YamlSyntaxError, problems

__all__ = [
    "APPLICATION_DERIVED",
    "POLICY_FACTS",
    "Amount",
    "Catalogue",
    "CatalogueError",
    "CityVersion",
    "Period",
    "PolicySet",
    "PolicySpec",
    "Resolved",
    "lint_catalogue",
    "load_catalogue",
]

#: Facts computed from what an application states on the day it is checked.
APPLICATION_DERIVED: dict[str, str] = {
    "hired_months": "full months from hired_on to the day",
    "business_months": "full months from business_registered_on to the day",
    "months_to_retirement": "full months from the day to the person's retirement age",
}

#: Every name a policy condition may read.
POLICY_FACTS: frozenset[str] = (
    READABLE
    | frozenset(f"in_{g.value}" for g in TargetGroup)
    | frozenset(ApplicationFacts.model_fields)
    | frozenset(APPLICATION_DERIVED)
)

_ID = r"^[a-z0-9][a-z0-9_.-]*$"
ValueRef = (
    Annotated[Decimal, Field(ge=0, le=10**9)]
    | Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
)


class CatalogueError(ConfigError):
    """A policy catalogue that cannot be used; the message lists every problem (file:line)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Amount(_Spec):
    """How much one entitlement (a month's, or the one payment) is."""

    fixed: Annotated[Decimal, Field(ge=0, le=10**9)] | None = None
    parameter: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] | None = None
    claimed: (
        Literal["contributions_monthly", "loan_amount", "rent_monthly", "training_days"] | None
    ) = None
    """The application fact the base is (a sum of money, or days of training)."""
    base_cap: ValueRef | None = None
    """The most of the base that counts (a loan's principal up to the cap)."""
    share: ValueRef = Decimal(1)
    """The part of the (capped) base paid: 0.5 of the minimum wage, a monthly interest rate."""
    cap: ValueRef | None = None
    """The most one entitlement pays."""

    @model_validator(mode="after")
    def _one_base(self) -> Amount:
        given = [n for n in ("fixed", "parameter", "claimed") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "an amount has exactly one of fixed (a sum), parameter (a parameter's value) "
                f"or claimed (what the application states); here: {', '.join(given) or 'none'}"
            )
        return self

    def references(self) -> list[tuple[str, str]]:
        """(field, parameter name) of every ``$parameter`` and ``parameter`` it reads."""
        out = [("parameter", self.parameter)] if self.parameter else []
        for name in ("base_cap", "share", "cap"):
            value = getattr(self, name)
            if isinstance(value, str):
                out.append((name, value[1:]))
        return out


class Period(_Spec):
    """Paid once, or monthly for at most ``months``."""

    once: bool = False
    months: Annotated[int, Field(ge=1, le=600)] | None = None
    until_retirement_within_years: Annotated[int, Field(ge=1, le=20)] | None = None
    """A person within this many years of retirement when the entitlement starts is paid
    until retirement, past ``months``."""
    at_most_loan_months: bool = False
    """No more months than the loan's term (``loan_months``: a loan's interest subsidy)."""

    @model_validator(mode="after")
    def _one_kind(self) -> Period:
        if self.once == (self.months is not None):
            raise ValueError("a period is either once: true or months: N (at most N monthly)")
        if self.once and self.until_retirement_within_years is not None:
            raise ValueError("until_retirement_within_years applies to monthly periods only")
        return self


class RuleSpec(_Spec):
    """One way into a policy: every ``when`` condition must hold."""

    id: Annotated[str, Field(pattern=_ID, max_length=64)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    title_en: Annotated[str, Field(max_length=200)] | None = None
    when: Annotated[tuple[str, ...], Field(min_length=1, max_length=32)]


class PolicySpec(_Spec):
    """One subsidy, loan or allowance of a policy set."""

    id: Annotated[str, Field(pattern=_ID, max_length=64)]
    kind: SubsidyKind
    title: Annotated[str, Field(min_length=1, max_length=200)]
    title_en: Annotated[str, Field(max_length=200)] | None = None
    payee: Literal["person", "employer"] = "person"
    amount: Amount
    period: Period
    requires: Annotated[tuple[str, ...], Field(max_length=32)] = ()
    rules: Annotated[tuple[RuleSpec, ...], Field(max_length=64)] = ()
    """Ways in, one of which must hold besides ``requires`` (none: ``requires`` alone)."""
    incompatible_with: Annotated[tuple[str, ...], Field(max_length=32)] = ()
    """Policies of the set a person cannot hold for the same months (either way round)."""
    once_per_person: bool = False
    """Granted to a person at most once, ever (a one-time subsidy)."""
    source: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class PolicySet(_Spec):
    """A versioned set of policies with the parameters their amounts and conditions use."""

    id: Annotated[str, Field(pattern=_ID, max_length=64)]
    version: Annotated[int, Field(ge=1, le=10_000)]
    effective_from: dt.date
    effective_to: dt.date | None = None
    source: Annotated[str, Field(min_length=1, max_length=500)]
    parameters: dict[str, int | float | str | bool] = Field(default_factory=dict)
    policies: Annotated[tuple[PolicySpec, ...], Field(max_length=200)]

    @property
    def ref(self) -> str:
        """``id@version``: how a city names it."""
        return f"{self.id}@{self.version}"

    def policy(self, policy_id: str) -> PolicySpec | None:
        """The set's policy of that id."""
        return next((p for p in self.policies if p.id == policy_id), None)


class CityVersion(_Spec):
    """One version of a city's catalogue (typically a year): the set, its parameters, dates."""

    version: Annotated[int, Field(ge=1, le=10_000)]
    effective_from: dt.date
    effective_to: dt.date | None = None
    policy_set: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*@\d+$", max_length=80)]
    parameters: dict[str, int | float | str | bool] = Field(default_factory=dict)
    source: Annotated[str, Field(min_length=1, max_length=500)] = "EAMS default"

    def covers(self, day: dt.date) -> bool:
        """Whether the version is in force on ``day``."""
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


class City(_Spec):
    """A city's versions of its catalogue."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    versions: Annotated[tuple[CityVersion, ...], Field(min_length=1, max_length=100)]


class CatalogueDoc(_Spec):
    """One file of the catalogue directory."""

    policy_sets: tuple[PolicySet, ...] = ()
    cities: dict[Annotated[str, Field(pattern=r"^\d{4}00$")], City] = Field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """A city's catalogue in force on a day: what a check applies and records."""

    ref: str
    """The city's version (``370700@1``): what decisions record."""
    policy_set: PolicySet
    parameters: Mapping[str, Any]
    source: str
    conditions: Mapping[str, Condition]

    def policy(self, policy_id: str) -> PolicySpec | None:
        """The policy of that id in this version's set."""
        return self.policy_set.policy(policy_id)

    def value(self, ref: Decimal | str) -> Decimal:
        """A number or ``$parameter`` as a Decimal."""
        if isinstance(ref, str):
            return Decimal(str(self.parameters[ref[1:]]))
        return ref


class Catalogue:
    """Every policy set and city version of a catalogue directory."""

    def __init__(self, sets: Mapping[str, PolicySet], cities: Mapping[str, City]) -> None:
        self.sets = dict(sets)
        self.cities = dict(cities)
        self._conditions = {ref: _parse_all(s) for ref, s in self.sets.items()}
        self._resolved: dict[tuple[str, int], Resolved] = {}

    def version(self, ref: str) -> Resolved:
        """A city's version by its reference (``370700@1``); raises KeyError if unknown."""
        city, _, number = ref.partition("@")
        for version in self.cities[city].versions:
            if str(version.version) == number:
                return self._resolve(city, version)
        raise KeyError(ref)

    def resolve(self, city: str, day: dt.date) -> Resolved | None:
        """The catalogue of ``city`` in force on ``day`` (None: none that day)."""
        entry = self.cities.get(city)
        found = [v for v in entry.versions if v.covers(day)] if entry else []
        if not found:
            return None
        return self._resolve(city, max(found, key=lambda v: v.effective_from))

    def _resolve(self, city: str, version: CityVersion) -> Resolved:
        key = (city, version.version)
        found = self._resolved.get(key)
        if found is None:
            policy_set = self.sets[version.policy_set]
            found = self._resolved[key] = Resolved(
                ref=f"{city}@{version.version}",
                policy_set=policy_set,
                parameters={**policy_set.parameters, **version.parameters},
                source=version.source,
                conditions=self._conditions[version.policy_set],
            )
        return found


def _texts(policy_set: PolicySet) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for i, policy in enumerate(policy_set.policies):
        at: Loc = ("policies", i)
        out += [((*at, "requires", j), t) for j, t in enumerate(policy.requires)]
        for j, rule in enumerate(policy.rules):
            out += [((*at, "rules", j, "when", k), t) for k, t in enumerate(rule.when)]
    return out


def _parse_all(policy_set: PolicySet) -> dict[str, Condition]:
    return {text: parse_condition(text, POLICY_FACTS) for _, text in _texts(policy_set)}


_NESTED: dict[str, tuple[type[BaseModel], int]] = {
    "policy_sets": (PolicySet, 2),
    "policies": (PolicySpec, 2),
    "amount": (Amount, 1),
    "period": (Period, 1),
    "rules": (RuleSpec, 2),
    "cities": (City, 2),
    "versions": (CityVersion, 2),
}
_MODELS = frozenset(
    {"PolicySet", "PolicySpec", "Amount", "Period", "RuleSpec", "City", "CityVersion"}
)


def _read(path: Path) -> tuple[CatalogueDoc | None, YamlLines | None, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, None, [f"{path}:1: cannot read the catalogue: {exc}"]
    try:
        lines = YamlLines(path, text)
    except YamlSyntaxError as exc:
        return None, None, [str(exc)]
    if not isinstance(lines.doc, dict):
        return None, lines, [f"{path}:1: a catalogue file is a YAML object (policy_sets:, cities:)"]
    try:
        return CatalogueDoc.model_validate(lines.doc), lines, []
    except ValidationError as exc:
        return None, lines, problems(exc, lines, CatalogueDoc, _NESTED, _MODELS)


def _check_set(policy_set: PolicySet, at: Loc, lines: YamlLines) -> list[str]:
    out: list[str] = []
    defined = policy_set.parameters
    if not policy_set.policies:
        out.append(lines.say((*at, "policies"), "a policy set offers at least one policy"))
    for loc, text in _texts(policy_set):
        try:
            condition = parse_condition(text, POLICY_FACTS)
        except ConditionSyntaxError as exc:
            out.append(lines.say((*at, *loc), f"{text!r}: {exc}"))
            continue
        if condition.parameter is not None and condition.parameter not in defined:
            out.append(
                lines.say(
                    (*at, *loc),
                    f"{text!r} reads ${condition.parameter}, which the set's parameters do "
                    "not define; add it under parameters:",
                )
            )
    ids = [p.id for p in policy_set.policies]
    for i, policy in enumerate(policy_set.policies):
        here: Loc = (*at, "policies", i)
        if ids.index(policy.id) != i:
            first = lines.line_of((*at, "policies", ids.index(policy.id)))
            out.append(
                lines.say((*here, "id"), f"policy id {policy.id!r} is used twice (line {first})")
            )
        for field, name in policy.amount.references():
            value = defined.get(name)
            if value is None:
                out.append(
                    lines.say(
                        (*here, "amount", field),
                        f"the amount reads {name!r}, which the set's parameters do not "
                        "define; add it under parameters:",
                    )
                )
            elif isinstance(value, bool) or not isinstance(value, int | float):
                out.append(
                    lines.say(
                        (*here, "amount", field),
                        f"the amount reads {name!r}, which is {value!r}, not a number",
                    )
                )
        for j, other in enumerate(policy.incompatible_with):
            if other not in ids:
                out.append(
                    lines.say(
                        (*here, "incompatible_with", j),
                        f"no policy {other!r} in {policy_set.ref} (known: {', '.join(ids)})",
                    )
                )
            elif other == policy.id:
                out.append(
                    lines.say((*here, "incompatible_with", j), "a policy cannot exclude itself")
                )
    return out


def lint_catalogue(directory: Path, *, cities: Mapping[str, str] | None = None) -> list[str]:
    """Every problem of the catalogue under ``directory`` (``*.yaml``) as ``file:line:
    where: message``; with ``cities`` (code -> name), also a city the reference lacks."""
    return _load(directory, cities)[1]


def load_catalogue(directory: Path, *, cities: Mapping[str, str] | None = None) -> Catalogue:
    """Read the catalogue directory; raise :class:`CatalogueError` listing every problem."""
    catalogue, found = _load(directory, cities)
    if found:
        more = f"\n(and {len(found) - 20} more)" if len(found) > 20 else ""
        raise CatalogueError("\n".join(found[:20]) + more)
    return catalogue


def _load(directory: Path, cities: Mapping[str, str] | None) -> tuple[Catalogue, list[str]]:
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        return Catalogue({}, {}), [f"{directory}: no *.yaml policy catalogue there"]
    found: list[str] = []
    sets: dict[str, tuple[PolicySet, str]] = {}
    entries: dict[str, tuple[City, YamlLines, str]] = {}
    for path in files:
        doc, lines, bad = _read(path)
        found += bad
        if doc is None or lines is None:
            continue
        for i, policy_set in enumerate(doc.policy_sets):
            at: Loc = ("policy_sets", i)
            bad_set = _check_set(policy_set, at, lines)
            found += bad_set
            if bad_set:
                continue
            if policy_set.ref in sets:
                found.append(
                    lines.say(
                        (*at, "version"),
                        f"{policy_set.ref} is defined twice (also in {sets[policy_set.ref][1]})",
                    )
                )
            sets[policy_set.ref] = (policy_set, f"{path}:{lines.line_of(at)}")
        for code, city in doc.cities.items():
            if code in entries:
                found.append(
                    lines.say(
                        ("cities", code),
                        f"city {code} is defined twice (also in {entries[code][2]})",
                    )
                )
            entries[code] = (city, lines, f"{path}:{lines.line_of(('cities', code))}")
    plain = {ref: s for ref, (s, _) in sets.items()}
    for code, (city, lines, _) in entries.items():
        if cities is not None and code not in cities:
            found.append(
                lines.say(("cities", code), f"{code} is not a city of the region reference")
            )
        found += check_versions(code, city.versions, lines, plain, "policy_set")
        for i, version in enumerate(city.versions):
            known = plain.get(version.policy_set)
            for name, value in version.parameters.items():
                if known is None or name not in known.parameters:
                    continue
                if isinstance(known.parameters[name], int | float) and (
                    isinstance(value, bool) or not isinstance(value, int | float)
                ):
                    found.append(
                        lines.say(
                            ("cities", code, "versions", i, "parameters", name),
                            f"{name} is a number in {known.ref}, not {value!r}",
                        )
                    )
    return Catalogue(plain, {c: e[0] for c, e in entries.items()}), found
