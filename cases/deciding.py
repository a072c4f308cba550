"""What every decision of a person's case shares: the day it is judged as of, the events it
appends (a record of an earlier day happened that day), first-inquiry ownership, and the
recognition and visit-schedule changes that follow from what a command changed.

:class:`CaseDecisions` is the base of :class:`cases.person.PersonAggregate`; it holds the
rules, the case policy and the region reference and decides nothing by itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from cases.case_state import PersonCase, apply_event
from cases.facts import derive
from cases.policy import CasePolicy
from cases.recognition import Judgement, judge
from cases.rules import RuleBook
from events.clock import SHANGHAI
from events.commands import Change, Command
from events.envelope import Envelope, internal_event
from events.errors import CommandRejectedError
from events.payloads_cases import FactValues
from events.regions import RegionReference

__all__ = ["CaseDecisions", "months_between"]

_PERSON_ID = "person_id"
#: The earliest day a case records (the log's times are DateTime64 from 1900 on).
EARLIEST = dt.date(1950, 1, 1)


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from ``start`` to ``end``."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (1 if end.day < start.day else 0)


class CaseDecisions:
    """The rules, the policy and the reference, and the steps every decision shares."""

    def __init__(self, rules: RuleBook, policy: CasePolicy, reference: RegionReference) -> None:
        self.rules = rules
        self.policy = policy
        self.reference = reference

    def _day(
        self, given: dt.date | None, today: dt.date, command: Command, name: str = "on"
    ) -> dt.date:
        if given is None:
            return today
        if given > today:
            raise CommandRejectedError(
                f"{command.command_type} payload.{name}: {given} is after today ({today}); "
                "record what has happened",
                code="invalid",
            )
        if given < EARLIEST:
            raise CommandRejectedError(
                f"{command.command_type} payload.{name}: {given} is before {EARLIEST}; "
                "give the day it happened (YYYY-MM-DD)",
                code="invalid",
            )
        return given

    def _change(
        self,
        event_type: str,
        state: PersonCase,
        payload: Mapping[str, Any],
        day: dt.date,
        today: dt.date,
        region: str | None = None,
    ) -> Change:
        body = {_PERSON_ID: state.person_id, **payload}
        at = None
        if day < today:  # a record of an earlier day happened that day (noon, the province's time)
            at = dt.datetime.combine(day, dt.time(12, 0), SHANGHAI)
        return Change(event_type, _jsonable(body), region=region or state.region, occurred_at=at)

    def _need_open(self, state: PersonCase, command: Command) -> None:
        if not state.registered:
            raise CommandRejectedError(
                f"{command.command_type}: {state.person_id} is not registered; register the "
                "person first (POST /api/persons)",
                code="not_found",
            )
        if state.exited:
            raise CommandRejectedError(
                f"{command.command_type}: the case of {state.person_id} was closed "
                f"({state.exit_reason}); register the person again to reopen it",
                code="conflict",
            )

    def _city(self, state: PersonCase, region: str | None = None) -> str | None:
        where = region or state.region
        return self.reference.city_of(where) if where else None

    def _fold(
        self, state: PersonCase, changes: list[Change], command: Command, day: dt.date
    ) -> PersonCase:
        """The state after ``changes`` (for the decisions that follow in the same command)."""
        for i, change in enumerate(changes):
            envelope = _preview(change, state, command, day, i)
            state = apply_event(state, envelope)
        return state

    def _ownership(
        self, state: PersonCase, office: str | None, command: Command, day: dt.date, today: dt.date
    ) -> list[Change]:
        """First-inquiry responsibility: the first office that serves an unowned case owns it."""
        if state.officer is not None:
            return []
        where = office or state.region
        return [
            self._change(
                "case.assigned",
                state,
                {"office": where, "officer": command.actor, "reason": "first_inquiry"},
                day,
                today,
            )
        ]

    def _judge(
        self,
        state: PersonCase,
        day: dt.date,
        today: dt.date,
        command: Command,
        *,
        strict: bool = False,
    ) -> list[Change]:
        """Recognition changes after what the command changed, judged as of ``day``."""
        if not state.open:
            return []
        city = self._city(state)
        rules = self.rules.resolve(city, day) if city else None
        if rules is None:
            if strict:
                raise CommandRejectedError(
                    f"{command.command_type}: no recognition rules are in force for city {city} "
                    f"on {day}; add a version in deploy/recognition/cities.yaml",
                    code="invalid",
                )
            return []
        out: list[Change] = []
        facts = FactValues.model_validate(state.facts).given()
        for judgement in judge(rules, state.facts, day):
            out += self._outcome(state, judgement, facts, day, today)
        return out

    def _outcome(
        self, state: PersonCase, j: Judgement, facts: dict[str, Any], day: dt.date, today: dt.date
    ) -> list[Change]:
        group = j.group.value
        held = state.recognised.get(group)
        conditions = [c.model_dump(mode="json") for c in j.conditions]
        if j.holds:
            expired = held is not None and held.valid_until is not None and held.valid_until < day
            if held is not None and not expired and held.rule_set == j.rule_set:
                return []
            payload = {
                "target_group": group,
                "difficulty_reasons": [j.reason.value] if j.reason else [],
                "recognised_on": day.isoformat(),
                "valid_until": j.valid_until.isoformat() if j.valid_until else None,
                "rule_set": j.rule_set,
                "rule_id": j.rule_id,
                "conditions": conditions,
                "facts": facts,
            }
            return [self._change("person.recognized", state, payload, day, today)]
        failed = [c.model_dump(mode="json") for c in j.failed]
        if held is not None:
            reasons = (
                "; ".join(f"{c.condition} ({c.value})" for c in j.failed if c.rule == "requires")
                or "no rule holds"
            )
            payload = {
                "target_group": group,
                "reason": f"no longer meets the rules of {j.rule_set}: {reasons}"[:500],
                "rule_set": j.rule_set,
                "failed": failed[:64],
                "facts": facts,
                "revoked_on": day.isoformat(),
            }
            return [self._change("person.recognition_revoked", state, payload, day, today)]
        # a refusal answers the registration's group until it was once recognised: a lapse
        # after that is a revocation, and the case goes on being tracked
        if (
            group == state.applied_group
            and group not in state.once_recognised
            and state.refused.get(group) != j.signature()
        ):
            payload = {
                "target_group": group,
                "rule_set": j.rule_set,
                "evaluated_on": day.isoformat(),
                "failed": failed[:64],
                "facts": facts,
            }
            return [self._change("person.recognition_refused", state, payload, day, today)]
        return []

    def _schedule(
        self,
        state: PersonCase,
        day: dt.date,
        today: dt.date,
        *,
        base: dt.date | None = None,
        retry: bool = False,
    ) -> list[Change]:
        """A ``visit.scheduled`` when the case's interval or base day changed."""
        if not state.open or state.officer is None:
            return []
        policy = self.policy.for_city(self._city(state))
        facts = {**derive(state.facts, day, {}), **state.groups()}
        schedule = policy.schedule_for(facts)
        every = schedule.every_days
        if retry:
            every = min(every, policy.visits.not_reached_retry_days)
        start = base or state.last_visit or state.owner_since or day
        due = start + dt.timedelta(days=every)
        if base is None and state.visit_due is not None and schedule.basis == state.visit_basis:
            return []
        if due == state.visit_due and schedule.basis == state.visit_basis:
            return []
        payload = {"due_on": due.isoformat(), "interval_days": every, "basis": schedule.basis}
        return [self._change("visit.scheduled", state, payload, day, today)]

    def _then(
        self,
        state: PersonCase,
        changes: list[Change],
        command: Command,
        day: dt.date,
        today: dt.date,
        **schedule: Any,
    ) -> list[Change]:
        """``changes`` plus the recognition and schedule changes they lead to."""
        after = self._fold(state, changes, command, day)
        recognition = self._judge(after, day, today, command)
        after = self._fold(after, recognition, command, day)
        return changes + recognition + self._schedule(after, day, today, **schedule)


def _jsonable(payload: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if value is None:
            continue
        out[key] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def _preview(
    change: Change, state: PersonCase, command: Command, day: dt.date, index: int
) -> Envelope:
    """The envelope a change becomes (for folding within one decision)."""
    at = change.occurred_at or dt.datetime.combine(day, dt.time(12, 0), SHANGHAI)
    return internal_event(
        change.event_type,
        region=change.region or state.region or "370000",
        aggregate_id=state.person_id,
        actor=command.actor,
        source=command.source,
        payload=dict(change.payload),
        event_id=uuid.uuid5(command.command_id, str(index)),
        occurred_at=at,
    )
