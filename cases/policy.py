"""The case policy: visit schedules, silence, exit, plan reviews and the clearing deadline
of zero-employment households, as configuration (``deploy/cases/policy.yaml``) with
per-city overrides. Read with line numbers: every problem is ``file:line: where: message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cases.conditions import Condition, ConditionSyntaxError, parse_condition
from cases.facts import DERIVED_FACTS, FACT_NAMES
from events.errors import ConfigError
from events.vocabulary import TargetGroup
from events.yaml_lines import YamlLines, YamlSyntaxError, problems

__all__ = ["CasePolicy", "PolicyError", "Schedule", "load_policy", "lint_policy"]

#: What a schedule condition may read: the facts and ``in_<group>``.
SCHEDULE_FACTS: frozenset[str] = (
    FACT_NAMES | frozenset(DERIVED_FACTS) | frozenset(f"in_{g.value}" for g in TargetGroup)
)
Days = Annotated[int, Field(ge=1, le=3650)]


class PolicyError(ConfigError):
    """A case policy that cannot be used; the message lists every problem (file:line)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Spec):
    """A visit interval and the conditions under which it applies."""

    basis: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    when: Annotated[tuple[str, ...], Field(max_length=16)] = ()
    every_days: Days

    def conditions(self) -> list[Condition]:
        """The parsed conditions (checked at load)."""
        return [parse_condition(t, SCHEDULE_FACTS) for t in self.when]


class Visits(_Spec):
    """Regular visits."""

    schedules: Annotated[tuple[Schedule, ...], Field(min_length=1, max_length=32)]
    not_reached_retry_days: Days = 7
    silent_after_days: Days = 60


class Exit(_Spec):
    """When a case ends by itself or may be ended."""

    refusals_without_reason: Annotated[int, Field(ge=1, le=100)] = 3
    stable_employment_months: Annotated[int, Field(ge=0, le=120)] = 6


class Plans(_Spec):
    """Assistance agreements."""

    review_every_days: Days = 90


class Households(_Spec):
    """Zero-employment households."""

    clearing_deadline_days: Days = 30
    working_age_min: Annotated[int, Field(ge=0, le=30)] = 16
    retirement_age_male: Annotated[int, Field(ge=40, le=80)] = 60
    retirement_age_female: Annotated[int, Field(ge=40, le=80)] = 55


class Overrides(_Spec):
    """What a city sets differently (any section, whole)."""

    visits: Visits | None = None
    exit: Exit | None = None
    plans: Plans | None = None
    households: Households | None = None


class CasePolicy(_Spec):
    """The province's case policy and each city's overrides."""

    visits: Visits
    exit: Exit = Exit()
    plans: Plans = Plans()
    households: Households = Households()
    cities: dict[Annotated[str, Field(pattern=r"^\d{4}00$")], Overrides] = Field(
        default_factory=dict
    )

    def for_city(self, city: str | None) -> CasePolicy:
        """The policy in force in ``city`` (its overrides applied)."""
        over = self.cities.get(city or "")
        if over is None:
            return self
        changes = {k: v for k, v in over.model_dump(exclude_none=True).items()}
        return self.model_copy(update={k: getattr(over, k) for k in changes})

    def schedule_for(self, facts: Mapping[str, Any]) -> Schedule:
        """The first schedule whose conditions hold for ``facts`` (the last one always
        applies when none does)."""
        for schedule in self.visits.schedules:
            if all(c.judge(facts, {})[0] for c in schedule.conditions()):
                return schedule
        return self.visits.schedules[-1]


_NESTED: dict[str, tuple[type[BaseModel], int]] = {
    "visits": (Visits, 1),
    "schedules": (Schedule, 2),
    "exit": (Exit, 1),
    "plans": (Plans, 1),
    "households": (Households, 1),
    "cities": (Overrides, 2),
}


def _read(path: Path) -> tuple[CasePolicy | None, list[str]]:
    try:
        lines = YamlLines(path, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}:1: cannot read the case policy: {exc}"]
    except YamlSyntaxError as exc:
        return None, [str(exc)]
    if not isinstance(lines.doc, dict):
        return None, [f"{path}:1: the case policy is a YAML object (visits:, exit:, …)"]
    try:
        policy = CasePolicy.model_validate(lines.doc)
    except ValidationError as exc:
        return None, problems(exc, lines, CasePolicy, _NESTED, frozenset({"Visits", "Overrides"}))
    found: list[str] = []
    sections = [((), policy.visits)] + [
        (("cities", c), o.visits) for c, o in policy.cities.items() if o.visits is not None
    ]
    for at, visits in sections:
        assert visits is not None
        for i, schedule in enumerate(visits.schedules):
            for j, text in enumerate(schedule.when):
                try:
                    parse_condition(text, SCHEDULE_FACTS)
                except ConditionSyntaxError as exc:
                    loc = (*at, "visits", "schedules", i, "when", j)
                    found.append(lines.say(loc, f"{text!r}: {exc}"))
        if visits.schedules[-1].when:
            loc = (*at, "visits", "schedules", len(visits.schedules) - 1)
            found.append(lines.say(loc, "the last schedule must have no conditions (the fallback)"))
    return policy, found


def lint_policy(path: Path) -> list[str]:
    """Every problem of the case policy at ``path`` (``file:line: where: message``)."""
    return _read(path)[1]


def load_policy(path: Path) -> CasePolicy:
    """Read the case policy; raise :class:`PolicyError` listing every problem."""
    policy, found = _read(path)
    if found or policy is None:
        raise PolicyError("\n".join(found))
    return policy
