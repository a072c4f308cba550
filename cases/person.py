"""A person's case as a command aggregate (kind ``person``, keyed by the pseudonym): the one
writer of registration, recognition, first-inquiry ownership, plans, visits, services,
placements, leads and exit.

Every decision that changes what is known of a person judges them again on the command's
day with their city's rules in force that day (:func:`cases.recognition.judge`) and appends
what changed: ``person.recognized`` (group, rule-set version, rule, every condition with the
value it read, the facts), ``person.recognition_revoked`` (the conditions that no longer
hold) or, for the group the person was registered for, ``person.recognition_refused``
(the failed conditions; an unchanged refusal is not repeated). The visit schedule follows
the groups: a change of interval appends ``visit.scheduled``.

Other packages add verbs and events to the case through a :class:`CaseExtension` (the
subsidy applications of :mod:`subsidies.applications`): the case folds their events into
``PersonCase.extra`` and decides their verbs, so a person's money and their case are one
aggregate with one writer, and cases/ imports nothing of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from pydantic import BaseModel

from cases.case_state import PERSON_CASE_EVENTS, PersonCase, apply_event
from cases.deciding import months_between
from cases.leads import LeadDecisions
from cases.person_commands import (
    AgreePlan,
    Assign,
    AssignLead,
    ContactLead,
    DeclineLead,
    Discover,
    EndPlan,
    Evaluate,
    Exit,
    HandOver,
    RecordFacts,
    RecordPlacement,
    RecordRefusal,
    RecordService,
    RecordVisit,
    Register,
    RevisePlan,
)
from cases.policy import CasePolicy
from cases.rules import RuleBook
from events.clock import SHANGHAI
from events.commands import Change, Command, parse_payload
from events.envelope import Envelope
from events.errors import CommandRejectedError
from events.regions import RegionReference
from events.vocabulary import EmploymentStatus, ServiceKind

__all__ = ["CaseExtension", "PersonAggregate", "Verb"]

_PERSON_ID = "person_id"

#: A verb's body model and what decides it: (state, body, command, today) -> changes.
Verb = tuple[type[BaseModel], Callable[..., list[Change]]]


class CaseExtension(Protocol):
    """Verbs and events another package adds to a person's case."""

    @property
    def event_types(self) -> frozenset[str]:
        """The event types it folds (none of :data:`PERSON_CASE_EVENTS`)."""
        ...

    def verbs(self) -> Mapping[str, Verb]:
        """The verbs it decides (``apply_subsidy`` of ``person.apply_subsidy``)."""
        ...

    def apply(self, state: PersonCase, event: Envelope) -> PersonCase:
        """The case after one of its events (kept in ``state.extra``)."""
        ...


class PersonAggregate(LeadDecisions):
    """The command aggregate of a person's case."""

    kind = "person"

    def __init__(
        self,
        rules: RuleBook,
        policy: CasePolicy,
        reference: RegionReference,
        extensions: Sequence[CaseExtension] = (),
    ) -> None:
        super().__init__(rules, policy, reference)
        self._verbs: dict[str, Verb] = {
            "register": (Register, self._register),
            "record_facts": (RecordFacts, self._record_facts),
            "evaluate": (Evaluate, self._evaluate),
            "assign": (Assign, self._assign),
            "hand_over": (HandOver, self._hand_over),
            "agree_plan": (AgreePlan, self._agree_plan),
            "revise_plan": (RevisePlan, self._revise_plan),
            "end_plan": (EndPlan, self._end_plan),
            "record_visit": (RecordVisit, self._record_visit),
            "record_service": (RecordService, self._record_service),
            "record_refusal": (RecordRefusal, self._record_refusal),
            "record_placement": (RecordPlacement, self._record_placement),
            "exit": (Exit, self._exit),
            "discover": (Discover, self._discover),
            "assign_lead": (AssignLead, self._assign_lead),
            "contact_lead": (ContactLead, self._contact_lead),
            "decline_lead": (DeclineLead, self._decline_lead),
        }
        self.extensions = tuple(extensions)
        self._folders: dict[str, CaseExtension] = {}
        for extension in extensions:
            for event_type in extension.event_types:
                if event_type in PERSON_CASE_EVENTS or event_type in self._folders:
                    raise ValueError(f"{event_type} is folded twice by a person's case")
                self._folders[event_type] = extension
            for verb, entry in extension.verbs().items():
                if verb in self._verbs:
                    raise ValueError(f"person.{verb} is decided twice by a person's case")
                self._verbs[verb] = entry
        self.event_types: frozenset[str] = PERSON_CASE_EVENTS | frozenset(self._folders)

    # -- the Aggregate contract ------------------------------------------------------------

    def initial(self, aggregate_id: str) -> PersonCase:
        """A person nothing is known of yet."""
        return PersonCase(person_id=aggregate_id)

    def apply(self, state: PersonCase, event: Envelope) -> PersonCase:
        """The case after one of its events."""
        extension = self._folders.get(event.event_type)
        if extension is not None:
            return extension.apply(state, event)
        return apply_event(state, event)

    def region_of(self, state: PersonCase) -> str | None:
        """The person's region (registration, or the lead's)."""
        return state.region

    def decide(self, state: PersonCase, command: Command, now: dt.datetime) -> list[Change]:
        """The events ``command`` leads to (raises ``CommandRejectedError`` saying why)."""
        entry = self._verbs.get(command.verb)
        if entry is None:
            verbs = ", ".join(sorted(self._verbs))
            raise CommandRejectedError(
                f"{command.command_type}: a person's case takes {verbs}", code="invalid"
            )
        if not state.person_id.startswith("p_"):
            raise CommandRejectedError(
                f"{command.command_type}: {state.person_id!r} is not a person's pseudonym",
                code="invalid",
            )
        model, handle = entry
        body = parse_payload(model, command)
        today = now.astimezone(SHANGHAI).date()
        return handle(state, body, command, today)

    # -- the verbs -------------------------------------------------------------------------

    def _register(
        self, state: PersonCase, body: Register, command: Command, today: dt.date
    ) -> list[Change]:
        day = self._day(body.on, today, command)
        if state.registered and not state.exited:
            raise CommandRejectedError(
                f"{command.command_type}: {state.person_id} is already registered (since "
                f"{state.registered_on}, office {state.office}, officer {state.officer}); "
                "first-inquiry responsibility keeps the case there: ask for a handover",
                code="conflict",
            )
        if self.reference.get(body.region) is None:
            raise CommandRejectedError(
                f"{command.command_type} payload.region: {body.region} is not a region of "
                "the reference",
                code="invalid",
            )
        if state.exited:  # a new case: ownership, plan and schedule start again
            state = state.reopened()
        registered = {
            "target_group": body.target_group.value,
            "employment_status": body.employment_status.value,
            "household_id": body.household_id,
            "gender": body.gender.value if body.gender else None,
            "birth_year": body.birth_date.year if body.birth_date else None,
            "registered_on": day.isoformat(),
            "national_id_masked": body.national_id_masked,
            "name_masked": body.name_masked,
            "phone_masked": body.phone_masked,
        }
        changes = [
            self._change("person.registered", state, registered, day, today, region=body.region)
        ]
        state = replace(state, region=body.region)
        changes.append(
            self._change(
                "case.assigned",
                state,
                {
                    "office": body.office or body.region,
                    "officer": command.actor,
                    "reason": "first_inquiry",
                },
                day,
                today,
            )
        )
        facts = body.facts.given()
        for name in ("gender", "birth_date", "household_id"):
            value = getattr(body, name)
            if value is not None:
                facts[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
        employed = body.employment_status in (
            EmploymentStatus.EMPLOYED,
            EmploymentStatus.SELF_EMPLOYED,
            EmploymentStatus.FLEXIBLY_EMPLOYED,
        )
        facts.setdefault("employed", employed)
        if not employed and "unemployed_since" not in facts:
            facts["unemployed_since"] = day.isoformat()
        changes.append(
            self._change(
                "person.facts_recorded",
                state,
                {"facts": facts, "observed_on": day.isoformat(), "source": "registration"},
                day,
                today,
            )
        )
        lead = body.lead_id or next(
            (k for k, v in state.leads.items() if v not in ("declined", "converted")), None
        )
        if lead is not None and state.leads.get(lead) not in (None, "converted"):
            changes.append(
                self._change(
                    "lead.converted",
                    state,
                    {"lead_id": lead, "target_group": body.target_group.value},
                    day,
                    today,
                )
            )
        return self._then(state, changes, command, day, today)

    def _record_facts(
        self, state: PersonCase, body: RecordFacts, command: Command, today: dt.date
    ) -> list[Change]:
        if not state.registered and not state.leads:
            self._need_open(state, command)
        if state.exited:
            self._need_open(state, command)
        day = self._day(body.on, today, command)
        facts = body.facts.given()
        if not facts:
            raise CommandRejectedError(
                f"{command.command_type} payload.facts: give at least one fact", code="invalid"
            )
        payload = {
            "facts": facts,
            "observed_on": day.isoformat(),
            "source": body.source,
            "document": body.document,
        }
        return self._then(
            state,
            [self._change("person.facts_recorded", state, payload, day, today)],
            command,
            day,
            today,
        )

    def _evaluate(
        self, state: PersonCase, body: Evaluate, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        day = self._day(body.on, today, command)
        recognition = self._judge(state, day, today, command, strict=True)
        after = self._fold(state, recognition, command, day)
        return recognition + self._schedule(after, day, today)

    def _assign(
        self, state: PersonCase, body: Assign, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        if state.officer is not None:
            raise CommandRejectedError(
                f"{command.command_type}: the case is owned by office {state.office} (officer "
                f"{state.officer}) since {state.owner_since}; hand it over instead",
                code="conflict",
            )
        payload = {"office": body.office, "officer": body.officer, "reason": "assignment"}
        changes = [self._change("case.assigned", state, payload, today, today)]
        after = self._fold(state, changes, command, today)
        return changes + self._schedule(after, today, today)

    def _hand_over(
        self, state: PersonCase, body: HandOver, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        if state.officer is None:
            raise CommandRejectedError(
                f"{command.command_type}: the case has no owner yet; assign it", code="conflict"
            )
        if (body.office, body.officer) == (state.office, state.officer):
            raise CommandRejectedError(
                f"{command.command_type}: the case is already with {body.officer} at {body.office}",
                code="conflict",
            )
        payload = {
            "from_office": state.office,
            "from_officer": state.officer,
            "office": body.office,
            "officer": body.officer,
            "reason": body.reason,
        }
        return [self._change("case.handed_over", state, payload, today, today)]

    def _agree_plan(
        self, state: PersonCase, body: AgreePlan, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        if state.plan_active:
            raise CommandRejectedError(
                f"{command.command_type}: plan {state.plan_id} (version "
                f"{state.plan_version}) is in force; revise it",
                code="conflict",
            )
        day = self._day(body.on, today, command)
        plan_id = (
            body.plan_id
            or f"plan-{state.person_id[2:10]}-{day:%Y%m%d}-{command.command_id.hex[:6]}"
        )
        changes = self._ownership(state, None, command, day, today)
        changes.append(
            self._change(
                "plan.agreed",
                state,
                self._plan(state, body, day, version=1, plan_id=plan_id),
                day,
                today,
            )
        )
        return changes

    def _plan(
        self,
        state: PersonCase,
        body: AgreePlan | RevisePlan,
        day: dt.date,
        *,
        version: int,
        plan_id: str,
    ) -> dict[str, Any]:
        policy = self.policy.for_city(self._city(state))
        review = body.review_due or day + dt.timedelta(days=policy.plans.review_every_days)
        services = sorted(
            {m.measure for m in body.measures if m.kind == "service"}
            & {s.value for s in ServiceKind}
        )
        out: dict[str, Any] = {
            "plan_id": plan_id,
            "version": version,
            "goals": list(body.goals),
            "measures": [m.model_dump(mode="json") for m in body.measures],
            "review_due": review.isoformat(),
        }
        if version == 1:
            out["services"] = services
        return out

    def _revise_plan(
        self, state: PersonCase, body: RevisePlan, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        if not state.plan_active or state.plan_id is None:
            raise CommandRejectedError(
                f"{command.command_type}: no plan is in force; agree one first", code="conflict"
            )
        day = self._day(body.on, today, command)
        payload = self._plan(
            state, body, day, version=state.plan_version + 1, plan_id=state.plan_id
        )
        payload["note"] = body.note
        return [self._change("plan.revised", state, payload, day, today)]

    def _end_plan(
        self, state: PersonCase, body: EndPlan, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        if not state.plan_active:
            raise CommandRejectedError(
                f"{command.command_type}: no plan is in force", code="conflict"
            )
        return [
            self._change(
                "plan.ended", state, {"plan_id": state.plan_id, "reason": body.reason}, today, today
            )
        ]

    def _record_visit(
        self, state: PersonCase, body: RecordVisit, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        day = self._day(body.visited_on, today, command, "visited_on")
        changes = self._ownership(state, body.office, command, day, today)
        payload = {
            "channel": body.channel.value,
            "visited_on": day.isoformat(),
            "outcome": body.outcome,
            "needs": list(body.needs),
            "note": body.note,
        }
        changes.append(self._change("visit.recorded", state, payload, day, today))
        after = self._fold(state, changes, command, day)
        return changes + self._schedule(
            after, day, today, base=day, retry=body.outcome != "contacted"
        )

    def _record_service(
        self, state: PersonCase, body: RecordService, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        day = self._day(body.delivered_on, today, command, "delivered_on")
        changes = self._ownership(state, body.office, command, day, today)
        changes.append(
            self._change(
                "service.delivered",
                state,
                {"service": body.service.value, "delivered_on": day.isoformat(), "note": body.note},
                day,
                today,
            )
        )
        after = self._fold(state, changes, command, day)
        return changes + self._schedule(after, day, today)

    def _record_refusal(
        self, state: PersonCase, body: RecordRefusal, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        day = self._day(body.refused_on, today, command, "refused_on")
        changes = [
            self._change(
                "service.refused",
                state,
                {
                    "service": body.service,
                    "refused_on": day.isoformat(),
                    "justified": body.justified,
                    "reason": body.reason,
                },
                day,
                today,
            )
        ]
        limit = self.policy.for_city(self._city(state)).exit.refusals_without_reason
        if not body.justified and state.unjustified_refusals + 1 >= limit:
            note = f"{limit} refusals without a reason (policy: exit.refusals_without_reason)"
            changes += self._closing(state, "refused_services", day, today, note)
        return changes

    def _closing(
        self, state: PersonCase, reason: str, day: dt.date, today: dt.date, note: str | None
    ) -> list[Change]:
        out = []
        if state.plan_active:
            out.append(
                self._change(
                    "plan.ended",
                    state,
                    {"plan_id": state.plan_id, "reason": f"case exited: {reason}"},
                    day,
                    today,
                )
            )
        out.append(
            self._change(
                "person.exited",
                state,
                {"reason": reason, "exited_on": day.isoformat(), "note": note},
                day,
                today,
            )
        )
        return out

    def _record_placement(
        self, state: PersonCase, body: RecordPlacement, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        day = self._day(body.started_on, today, command, "started_on")
        payload = {
            "placement": body.placement.value,
            "started_on": day.isoformat(),
            "employer_name": body.employer_name,
            "employer_uscc": body.employer_uscc,
            "monthly_wage": str(body.monthly_wage) if body.monthly_wage is not None else None,
        }
        changes = self._ownership(state, None, command, day, today)
        changes.append(self._change("placement.recorded", state, payload, day, today))
        changes.append(
            self._change(
                "person.facts_recorded",
                state,
                {
                    "facts": {"employed": True},
                    "observed_on": day.isoformat(),
                    "source": "placement",
                },
                day,
                today,
            )
        )
        return self._then(state, changes, command, day, today)

    def _exit(
        self, state: PersonCase, body: Exit, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        day = self._day(body.exited_on, today, command, "exited_on")
        reason = body.reason.value
        policy = self.policy.for_city(self._city(state)).exit
        if reason == "employed":
            since = state.employed_since if state.facts.get("employed") else None
            if since is None:
                raise CommandRejectedError(
                    f"{command.command_type}: no placement is recorded; record it first",
                    code="conflict",
                )
            months = months_between(since, day)
            if months < policy.stable_employment_months:
                raise CommandRejectedError(
                    f"{command.command_type}: in work since {since}, {months} months by {day}; "
                    f"exit as employed after {policy.stable_employment_months} months of stable "
                    "work (policy: exit.stable_employment_months)",
                    code="conflict",
                )
        if reason == "no_longer_eligible" and state.recognised:
            groups = ", ".join(sorted(state.recognised))
            raise CommandRejectedError(
                f"{command.command_type}: still recognised as {groups}; record the facts that "
                "changed (the recognition is then revoked) before this exit",
                code="conflict",
            )
        if (
            reason == "refused_services"
            and state.unjustified_refusals < policy.refusals_without_reason
        ):
            raise CommandRejectedError(
                f"{command.command_type}: {state.unjustified_refusals} unjustified refusals are "
                f"recorded; the policy exits after {policy.refusals_without_reason}",
                code="conflict",
            )
        return self._closing(state, reason, day, today, body.note)
