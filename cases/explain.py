"""Why a person was (or was not) recognised on a day: every decision replayed from the log
with the facts known when it was made and the rule-set version it names.

Event sourcing makes this exact. The log holds, before each decision, every fact it read;
the decision names the city's rule-set version (``370100@1``) and the conditions with the
values it read. :func:`explain` folds the person's events in log order, and at each
decision judges the facts folded so far with that version on the decision's day: the
replay must give the same outcome, rule and values (``reproduced``), or it says what
differs. It then judges the case as known at the end of ``as_of`` with the rules in force
that day, beside what the log held then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cases.case_state import PersonCase, apply_event
from cases.recognition import Judgement, judge
from cases.rules import RuleBook
from events.clock import SHANGHAI
from events.envelope import Envelope
from events.regions import RegionReference
from events.vocabulary import TargetGroup

__all__ = ["Explanation", "Replayed", "explain"]

DECISIONS = ("person.recognized", "person.recognition_refused", "person.recognition_revoked")
_DAY_FIELD = {
    "person.recognized": "recognised_on",
    "person.recognition_refused": "evaluated_on",
    "person.recognition_revoked": "revoked_on",
}


@dataclass(frozen=True)
class Replayed:
    """One decision of the log and its replay."""

    event_id: str
    event_type: str
    group: str
    day: dt.date
    rule_set: str
    recorded_rule: str | None
    replayed: Judgement | None
    reproduced: bool
    differences: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        j = self.replayed
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "group": self.group,
            "day": self.day.isoformat(),
            "rule_set": self.rule_set,
            "recorded_rule": self.recorded_rule,
            "replayed_rule": j.rule_id if j else None,
            "replayed_holds": j.holds if j else None,
            "conditions": [c.model_dump(mode="json") for c in j.conditions] if j else [],
            "reproduced": self.reproduced,
            "differences": list(self.differences),
        }


@dataclass(frozen=True)
class Explanation:
    """A person's recognition decisions up to a day, replayed, and the case on that day."""

    person_id: str
    as_of: dt.date
    region: str | None
    city: str | None
    decisions: tuple[Replayed, ...]
    recognised_then: dict[str, str]
    """group -> rule set and rule the log held as recognised at the end of ``as_of``."""
    facts_then: dict[str, Any]
    rules_then: str | None
    """The city's version in force on ``as_of`` (None: the city had none)."""
    judged_then: tuple[Judgement, ...] = field(default=())

    @property
    def reproduced(self) -> bool:
        """Every decision replayed to the same outcome."""
        return all(d.reproduced for d in self.decisions)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "person_id": self.person_id,
            "as_of": self.as_of.isoformat(),
            "region": self.region,
            "city": self.city,
            "reproduced": self.reproduced,
            "decisions": [d.as_dict() for d in self.decisions],
            "recognised_then": self.recognised_then,
            "facts_then": self.facts_then,
            "rules_then": self.rules_then,
            "judged_then": [
                {
                    "group": j.group.value,
                    "holds": j.holds,
                    "rule_id": j.rule_id,
                    "conditions": [c.model_dump(mode="json") for c in j.conditions],
                }
                for j in self.judged_then
            ],
        }


def _day(event: Envelope) -> dt.date:
    return event.occurred_at.astimezone(SHANGHAI).date()


def _replay(state: PersonCase, event: Envelope, rules: RuleBook) -> Replayed:
    p = event.payload_dict()
    group = str(p["target_group"])
    day_text = p.get(_DAY_FIELD[event.event_type])
    day = dt.date.fromisoformat(day_text) if day_text else _day(event)
    ref = p.get("rule_set")
    recorded_rule = p.get("rule_id")
    base: dict[str, Any] = {
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "group": group,
        "day": day,
    }
    if not ref:
        return Replayed(
            **base,
            rule_set="(none)",
            recorded_rule=recorded_rule,
            replayed=None,
            reproduced=False,
            differences=("the decision names no rule-set version: made outside EAMS's rules",),
        )
    try:
        version = rules.version(ref)
    except KeyError:
        return Replayed(
            **base,
            rule_set=ref,
            recorded_rule=recorded_rule,
            replayed=None,
            reproduced=False,
            differences=(f"rule-set version {ref} is no longer in the rules directory",),
        )
    found = judge(version, state.facts, day, (TargetGroup(group),))
    replayed = found[0] if found else None
    differences: list[str] = []
    if replayed is None:
        differences.append(f"{ref} has no rules for {group}")
    else:
        should_hold = event.event_type == "person.recognized"
        if replayed.holds != should_hold:
            differences.append(f"the replay {'holds' if replayed.holds else 'does not hold'}")
        if should_hold and replayed.rule_id != recorded_rule:
            differences.append(
                f"the replay recognises by {replayed.rule_id}, the log by {recorded_rule}"
            )
        recorded = {
            c["condition"]: c.get("value") for c in p.get("conditions", ()) or p.get("failed", ())
        }
        for c in replayed.conditions:
            if c.condition in recorded and recorded[c.condition] != c.value:
                differences.append(
                    f"{c.condition}: the log read {recorded[c.condition]!r}, the replay {c.value!r}"
                )
    return Replayed(
        **base,
        rule_set=ref,
        recorded_rule=recorded_rule,
        replayed=replayed,
        reproduced=not differences,
        differences=tuple(differences),
    )


def explain(
    person_id: str,
    events: Iterable[Envelope],
    rules: RuleBook,
    reference: RegionReference,
    as_of: dt.date,
) -> Explanation:
    """Replay the recognition decisions of ``events`` (the person's, in log order) that were
    made on or before ``as_of``, and judge the case as known at the end of that day."""
    state = PersonCase(person_id=person_id)
    decisions: list[Replayed] = []
    for event in events:
        if _day(event) > as_of:
            continue  # not yet known on as_of (a record of a later day)
        if event.event_type in DECISIONS:
            decisions.append(_replay(state, event, rules))
        state = apply_event(state, event)
    city = reference.city_of(state.region) if state.region else None
    resolved = rules.resolve(city, as_of) if city else None
    judged = (
        tuple(judge(resolved, state.facts, as_of)) if resolved is not None and state.open else ()
    )
    return Explanation(
        person_id=person_id,
        as_of=as_of,
        region=state.region,
        city=city,
        decisions=tuple(decisions),
        recognised_then={
            g: f"{h.rule_set} {h.rule_id or ''}".strip() for g, h in state.recognised.items()
        },
        facts_then=dict(state.facts),
        rules_then=resolved.ref if resolved else None,
        judged_then=judged,
    )
