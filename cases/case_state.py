"""A person's case as the command handler folds it from the log: who they are (masked),
what is known of them, what they were recognised as, who is in charge, the schedule, the
plan, refusals, placement, leads and exit.

``apply`` is pure and total: every event of :data:`PERSON_CASE_EVENTS` moves the state, an
event that changes nothing (a repeat) returns it unchanged, and no event is refused here
(ingest and the handler checked them): the log is what happened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from events.clock import SHANGHAI
from events.envelope import Envelope
from events.payloads_cases import FactValues
from events.vocabulary import TargetGroup

__all__ = ["PERSON_CASE_EVENTS", "Held", "PersonCase", "apply_event", "contact_day"]

PERSON_CASE_EVENTS: frozenset[str] = frozenset(
    {
        "person.registered",
        "person.facts_recorded",
        "person.recognized",
        "person.recognition_refused",
        "person.recognition_revoked",
        "person.exited",
        "case.assigned",
        "case.handed_over",
        "visit.recorded",
        "visit.scheduled",
        "service.delivered",
        "service.refused",
        "plan.agreed",
        "plan.revised",
        "plan.ended",
        "referral.made",
        "training.enrolled",
        "training.completed",
        "placement.recorded",
        "lead.discovered",
        "lead.assigned",
        "lead.contacted",
        "lead.declined",
        "lead.converted",
    }
)
"""The event types a person's case folds (all keyed by the person's pseudonym)."""

#: Events that are a contact with the person (the silent list counts days since the last).
_CONTACTS = frozenset(
    {
        "service.delivered",
        "plan.agreed",
        "plan.revised",
        "placement.recorded",
        "lead.contacted",
        "referral.made",
        "training.enrolled",
    }
)


@dataclass(frozen=True, slots=True)
class Held:
    """A recognition in force: by which version and rule, since and until when."""

    rule_set: str
    rule_id: str | None
    since: dt.date
    valid_until: dt.date | None


@dataclass(frozen=True, slots=True)
class PersonCase:
    """The state of one person's case."""

    person_id: str
    region: str | None = None
    registered_on: dt.date | None = None
    applied_group: str | None = None
    masked: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    recognised: dict[str, Held] = field(default_factory=dict)
    refused: dict[str, tuple[str, ...]] = field(default_factory=dict)
    once_recognised: frozenset[str] = frozenset()
    """Groups the case was ever recognised in (a later lapse is a revocation, not a refusal)."""
    office: str | None = None
    officer: str | None = None
    owner_since: dt.date | None = None
    visit_due: dt.date | None = None
    visit_basis: str | None = None
    last_visit: dt.date | None = None
    last_contact: dt.date | None = None
    plan_id: str | None = None
    plan_version: int = 0
    plan_active: bool = False
    review_due: dt.date | None = None
    unjustified_refusals: int = 0
    employed_since: dt.date | None = None
    exited: bool = False
    exit_reason: str | None = None
    leads: dict[str, str] = field(default_factory=dict)
    """lead id -> stage (discovered, assigned, contacted, declined, converted)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """What an extension of the case keeps, by its name (the subsidy applications of
    :mod:`subsidies.applications`); kept across an exit and a new registration, as money
    owed or due outlives a case."""

    @property
    def registered(self) -> bool:
        """Whether the person was registered (not only discovered as a lead)."""
        return self.registered_on is not None

    @property
    def open(self) -> bool:
        """Registered and not exited."""
        return self.registered and not self.exited

    def reopened(self) -> PersonCase:
        """A new case of the same person (registered again after an exit): what is known of
        them is kept, ownership, plan and schedule start again."""
        return PersonCase(
            person_id=self.person_id,
            facts=self.facts,
            leads=self.leads,
            masked=self.masked,
            extra=self.extra,
        )

    def groups(self) -> dict[str, bool]:
        """``in_<group>`` facts for the schedule conditions."""
        return {f"in_{g.value}": g.value in self.recognised for g in TargetGroup}


def _day(value: Any, event: Envelope) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    if isinstance(value, dt.date):
        return value
    return event.occurred_at.astimezone(SHANGHAI).date()


def contact_day(case: PersonCase, day: dt.date) -> dt.date:
    """The later of the case's last contact and ``day``."""
    return day if case.last_contact is None or day > case.last_contact else case.last_contact


def _facts(case: PersonCase, values: dict[str, Any] | None) -> dict[str, Any]:
    if not values:
        return case.facts
    merged = dict(case.facts)
    merged.update(FactValues.model_validate(values).given())
    return merged


def apply_event(case: PersonCase, event: Envelope) -> PersonCase:  # noqa: C901 - one branch per type
    """The case after ``event``."""
    p = event.payload_dict()
    kind = event.event_type
    region = case.region or event.region
    if kind == "person.registered":
        if case.open:
            return case
        if case.exited:  # registered again: a new case, with what is known of the person
            case = case.reopened()
        facts = dict(case.facts)
        for name in ("gender", "household_id"):
            if p.get(name) is not None:
                facts[name] = p[name]
        masked = {
            k: p[k] for k in ("national_id_masked", "name_masked", "phone_masked") if p.get(k)
        }
        return replace(
            case,
            region=event.region,
            registered_on=_day(p.get("registered_on"), event),
            applied_group=p.get("target_group"),
            masked=masked or case.masked,
            facts=facts,
        )
    if kind == "person.facts_recorded":
        return replace(case, region=region, facts=_facts(case, p.get("facts")))
    if kind == "person.recognized":
        held = Held(
            rule_set=p.get("rule_set") or p.get("rule_ref") or "(source)",
            rule_id=p.get("rule_id"),
            since=_day(p.get("recognised_on"), event),
            valid_until=dt.date.fromisoformat(p["valid_until"]) if p.get("valid_until") else None,
        )
        refused = {g: s for g, s in case.refused.items() if g != p["target_group"]}
        return replace(
            case,
            region=region,
            recognised={**case.recognised, p["target_group"]: held},
            refused=refused,
            once_recognised=case.once_recognised | {p["target_group"]},
        )
    if kind == "person.recognition_revoked":
        recognised = {g: h for g, h in case.recognised.items() if g != p["target_group"]}
        return replace(case, recognised=recognised)
    if kind == "person.recognition_refused":
        signature = tuple(sorted(f"{c['rule']}:{c['condition']}" for c in p.get("failed", ())))
        return replace(case, region=region, refused={**case.refused, p["target_group"]: signature})
    if kind == "person.exited":
        return replace(case, exited=True, exit_reason=p.get("reason"), plan_active=False)
    if kind == "case.assigned":
        if case.officer is not None:
            return case
        return replace(
            case,
            region=region,
            office=p["office"],
            officer=p["officer"],
            owner_since=_day(None, event),
        )
    if kind == "case.handed_over":
        return replace(
            case, office=p["office"], officer=p["officer"], owner_since=_day(None, event)
        )
    if kind == "visit.scheduled":
        return replace(
            case, visit_due=dt.date.fromisoformat(p["due_on"]), visit_basis=p.get("basis")
        )
    if kind == "visit.recorded":
        day = _day(p.get("visited_on"), event)
        if p.get("outcome", "contacted") != "contacted":
            return replace(case, last_visit=day)
        return replace(case, last_visit=day, last_contact=contact_day(case, day))
    if kind == "service.refused":
        counted = case.unjustified_refusals + (0 if p.get("justified") else 1)
        return replace(case, unjustified_refusals=counted)
    if kind in ("plan.agreed", "plan.revised"):
        review = dt.date.fromisoformat(p["review_due"]) if p.get("review_due") else None
        return replace(
            case,
            plan_id=p["plan_id"],
            plan_version=int(p.get("version") or 1),
            plan_active=True,
            review_due=review,
            last_contact=contact_day(case, _day(None, event)),
        )
    if kind == "plan.ended":
        return replace(case, plan_active=False, review_due=None)
    if kind == "placement.recorded":
        started = _day(p.get("started_on"), event)
        facts = {**case.facts, "employed": True}
        return replace(
            case,
            employed_since=started,
            facts=facts,
            last_contact=contact_day(case, _day(None, event)),
        )
    if kind.startswith("lead."):
        return _apply_lead(case, kind, p, event, region)
    if kind in _CONTACTS:
        return replace(case, last_contact=contact_day(case, _day(None, event)))
    return case


_LEAD_STAGE = {
    "lead.discovered": "discovered",
    "lead.assigned": "assigned",
    "lead.contacted": "contacted",
    "lead.declined": "declined",
    "lead.converted": "converted",
}


def _apply_lead(
    case: PersonCase, kind: str, p: dict[str, Any], event: Envelope, region: str | None
) -> PersonCase:
    lead = str(p["lead_id"])
    stage = _LEAD_STAGE[kind]
    if kind == "lead.discovered":
        if lead in case.leads:
            return case
        masked = case.masked or {
            k: p[k] for k in ("national_id_masked", "name_masked", "phone_masked") if p.get(k)
        }
        return replace(
            case,
            region=region,
            leads={**case.leads, lead: stage},
            facts=_facts(case, p.get("facts")),
            masked=masked,
        )
    last = case.last_contact
    if kind == "lead.contacted":
        last = contact_day(case, _day(None, event))
    return replace(case, leads={**case.leads, lead: stage}, last_contact=last)
