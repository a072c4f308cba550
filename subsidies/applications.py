"""A person's subsidy applications, decided on their case (kind ``person``, one writer).

The lifecycle, one verb each (``person.<verb>``)::

    apply_subsidy ──► subsidy.applied      the policy and what the application states
    check_subsidy ──► subsidy.checked      the automatic check: every condition with the
                                           value it read, failed ones and conflicts named,
                                           the amount and months
    approve_subsidy ► subsidy.approved     by a second person: neither the applicant, nor
                      subsidy.entitled …   the case's officer, nor the one who checked; the
                                           months already due are entitled at once
    reject_subsidy ─► subsidy.rejected     with the reason

An application is decided on the person's case, not on an aggregate of its own, so that two
applications of incompatible policies, or of the same policy twice, are judged one after the
other against what the person already holds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from cases.case_state import PersonCase
from cases.deciding import CaseDecisions
from cases.facts import derive
from cases.person import Verb
from cases.policy import CasePolicy
from cases.rules import RuleBook
from events.clock import SHANGHAI
from events.commands import Change, Command
from events.envelope import Envelope
from events.errors import CommandRejectedError
from events.payload_base import Ident, IsoDate, Text
from events.payloads_cases import FactValues
from events.payloads_money import ApplicationFacts
from events.regions import RegionReference
from subsidies.catalogue import Catalogue, Resolved
from subsidies.eligibility import Check, Held, check, month_of, month_text, policy_facts

__all__ = [
    "SUBSIDY_EVENTS",
    "Application",
    "ApplySubsidy",
    "ApproveSubsidy",
    "CheckSubsidy",
    "RejectSubsidy",
    "SubsidyDecisions",
    "applications",
]

#: The event types of a person's applications (folded on the person's case).
SUBSIDY_EVENTS: frozenset[str] = frozenset(
    {
        "subsidy.applied",
        "subsidy.checked",
        "subsidy.approved",
        "subsidy.rejected",
        "subsidy.entitled",
        "subsidy.paid",
        "subsidy.recovered",
    }
)
_KEY = "applications"
_OPEN = ("applied", "checked")


@dataclass(frozen=True, slots=True)
class Application:
    """One application as its events left it."""

    application_id: str
    subsidy: str
    policy: str | None = None
    status: str = "applied"
    """applied, checked, approved, rejected, entitled, paid (what is due is paid)."""
    applied_on: dt.date | None = None
    applicant: str | None = None
    officer: str | None = None
    """The case's officer when it was applied for."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    checker: str | None = None
    eligible: bool | None = None
    version: str | None = None
    amount: Decimal | None = None
    """Each entitlement (the one payment, or a month's), as checked and approved."""
    first_month: int | None = None
    months: int = 0
    failed: tuple[str, ...] = ()
    approver: str | None = None
    entitled: Mapping[int, Decimal] = field(default_factory=dict)
    paid: Mapping[int, Decimal] = field(default_factory=dict)
    recovered: Decimal = Decimal(0)

    @property
    def last_month(self) -> int | None:
        """The last month the application covers (None before a check)."""
        if self.first_month is None:
            return None
        return self.first_month + max(self.months, 1) - 1

    def held(self) -> Held:
        """What the eligibility check weighs against another application."""
        return Held(
            self.application_id, self.policy or self.subsidy, self.status,
            self.first_month, self.last_month,
        )  # fmt: skip


def applications(case: PersonCase) -> dict[str, Application]:
    """The person's applications by id."""
    found: dict[str, Application] = case.extra.get(_KEY, {})
    return found


# -- the command bodies -----------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApplySubsidy(_Body):
    """Apply for a policy of the person's city (the catalogue in force on ``on``)."""

    policy: Ident
    facts: ApplicationFacts = ApplicationFacts()
    application_id: Ident | None = None
    """Given by the caller (a form's number) or derived from the command id."""
    on: IsoDate | None = None


class CheckSubsidy(_Body):
    """Run the automatic eligibility check of an application on ``on`` (default today)."""

    application_id: Ident
    on: IsoDate | None = None


class ApproveSubsidy(_Body):
    """Approve a checked, eligible application (maker-checker: see the module)."""

    application_id: Ident
    on: IsoDate | None = None


class RejectSubsidy(_Body):
    """Refuse an application that is not yet approved, saying why."""

    application_id: Ident
    reason: Text
    on: IsoDate | None = None


# -- the fold -----------------------------------------------------------------------------


def _month(text: Any) -> int | None:
    if not text:
        return None
    year, month = str(text).split("-")
    return int(year) * 12 + int(month) - 1


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def apply_subsidy_event(case: PersonCase, event: Envelope) -> PersonCase:
    """The case after one of :data:`SUBSIDY_EVENTS`."""
    p = event.payload_dict()
    held = applications(case)
    app_id = str(p["application_id"])
    app = held.get(app_id) or Application(app_id, str(p["subsidy"]), policy=p.get("policy"))
    kind = event.event_type
    if kind == "subsidy.applied":
        if app_id in held:
            return case
        app = replace(
            app,
            applied_on=dt.date.fromisoformat(p["applied_on"]) if p.get("applied_on") else None,
            applicant=event.actor,
            officer=case.officer,
            facts=dict(p.get("facts") or {}),
        )
    elif kind == "subsidy.checked":
        app = replace(
            app,
            status="checked" if app.status in _OPEN else app.status,
            checker=event.actor,
            eligible=bool(p["eligible"]),
            version=p.get("version"),
            amount=_money(p.get("amount")),
            first_month=_month(p.get("first_month")),
            months=int(p.get("months") or 0),
            failed=tuple(p.get("failed") or ()),
        )
    elif kind == "subsidy.approved":
        app = replace(
            app,
            status="approved",
            approver=event.actor,
            version=p.get("version") or app.version,
            amount=_money(p.get("amount")) or app.amount,
            first_month=_month(p.get("first_month")) or app.first_month,
            months=int(p.get("months") or app.months),
        )
    elif kind == "subsidy.rejected":
        app = replace(app, status="rejected", failed=tuple(p.get("failed") or app.failed))
    elif kind == "subsidy.entitled":
        month = _month(p["month"])
        assert month is not None  # the payload's month is required
        app = replace(
            app,
            status="entitled" if app.status in ("approved", "entitled", "paid") else app.status,
            entitled={**app.entitled, month: Decimal(str(p["amount"]))},
        )
    elif kind == "subsidy.paid":
        month = _month(p.get("month"))
        if month is None:
            month = month_of(event.occurred_at.astimezone(SHANGHAI).date())
        amount = Decimal(str(p["amount"]))
        paid = {**app.paid, month: app.paid.get(month, Decimal(0)) + amount}
        if app_id not in held:  # paid with no application here (a playbook's one-time batch)
            app = replace(app, status="paid", amount=amount, first_month=month, months=1)
        elif app.entitled and set(app.entitled) <= set(paid) and len(paid) >= app.months:
            app = replace(app, status="paid")  # every month of it paid
        app = replace(app, paid=paid)
    elif kind == "subsidy.recovered":
        app = replace(app, recovered=app.recovered + Decimal(str(p["amount"])))
    return replace(case, extra={**case.extra, _KEY: {**held, app_id: app}})


# -- the decisions ------------------------------------------------------------------------


class SubsidyDecisions(CaseDecisions):
    """The subsidy verbs of a person's case, with the policy catalogue they check against."""

    def __init__(
        self,
        catalogue: Catalogue,
        rules: RuleBook,
        policy: CasePolicy,
        reference: RegionReference,
    ) -> None:
        super().__init__(rules, policy, reference)
        self.catalogue = catalogue

    @property
    def event_types(self) -> frozenset[str]:
        """The events it folds on the case."""
        return SUBSIDY_EVENTS

    def verbs(self) -> Mapping[str, Verb]:
        """``person.apply_subsidy`` …"""
        return {
            "apply_subsidy": (ApplySubsidy, self._apply),
            "check_subsidy": (CheckSubsidy, self._check),
            "approve_subsidy": (ApproveSubsidy, self._approve),
            "reject_subsidy": (RejectSubsidy, self._reject),
        }

    def apply(self, state: PersonCase, event: Envelope) -> PersonCase:
        """The case after one of its subsidy events."""
        return apply_subsidy_event(state, event)

    # -- helpers ------------------------------------------------------------------------

    def _catalogue(self, state: PersonCase, day: dt.date, command: Command) -> Resolved:
        city = self._city(state)
        resolved = self.catalogue.resolve(city, day) if city else None
        if resolved is None:
            raise CommandRejectedError(
                f"{command.command_type}: no policy catalogue of city {city} is in force on "
                f"{day}; add the city's version for that year (deploy/policies)",
                code="invalid",
            )
        return resolved

    def _application(self, state: PersonCase, app_id: str, command: Command) -> Application:
        found = applications(state).get(app_id)
        if found is None:
            known = ", ".join(sorted(applications(state))) or "none"
            raise CommandRejectedError(
                f"{command.command_type}: {state.person_id} has no application {app_id!r} "
                f"(applications: {known})",
                code="not_found",
            )
        return found

    def _run_check(
        self,
        state: PersonCase,
        app: Application,
        day: dt.date,
        command: Command,
        first_month: int | None = None,
    ) -> tuple[Check, dict[str, Any], list[str]]:
        resolved = self._catalogue(state, day, command)
        policy_id = app.policy or ""
        if resolved.policy(policy_id) is None:
            known = ", ".join(p.id for p in resolved.policy_set.policies)
            raise CommandRejectedError(
                f"{command.command_type}: {resolved.ref} has no policy {policy_id!r} "
                f"(known: {known})",
                code="invalid",
            )
        city = self._city(state)
        rules = self.rules.resolve(city, day) if city else None
        parameters = rules.parameters if rules is not None else {}
        person = derive(state.facts, day, parameters)
        gender = state.facts.get("gender")
        retire = parameters.get(f"retirement_age_{gender}") if gender else None
        stated = ApplicationFacts.model_validate(app.facts)
        groups = sorted(state.recognised)
        facts = policy_facts(person, groups, stated, day, int(retire) if retire else None)
        held = [a.held() for a in applications(state).values()]
        done = check(
            resolved, policy_id, facts, stated, day, held=held,
            application_id=app.application_id, first_month=first_month,
        )  # fmt: skip
        return done, FactValues.model_validate(_recorded(state.facts)).given(), groups

    # -- the verbs ----------------------------------------------------------------------

    def _apply(
        self, state: PersonCase, body: ApplySubsidy, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_open(state, command)
        day = self._day(body.on, today, command)
        resolved = self._catalogue(state, day, command)
        policy = resolved.policy(body.policy)
        if policy is None:
            known = ", ".join(p.id for p in resolved.policy_set.policies)
            raise CommandRejectedError(
                f"{command.command_type} payload.policy: {resolved.ref} has no policy "
                f"{body.policy!r} (known: {known})",
                code="invalid",
            )
        app_id = body.application_id or f"sa-{uuid.uuid5(command.command_id, 'application')}"[:40]
        held = applications(state)
        if app_id in held:
            raise CommandRejectedError(
                f"{command.command_type}: application {app_id} exists ({held[app_id].status})",
                code="conflict",
            )
        pending = [a for a in held.values() if a.policy == policy.id and a.status in _OPEN]
        if pending:
            raise CommandRejectedError(
                f"{command.command_type}: {pending[0].application_id} applies for {policy.id} "
                f"already ({pending[0].status}); check, approve or reject it first",
                code="conflict",
            )
        payload = {
            "application_id": app_id,
            "subsidy": policy.kind.value,
            "policy": policy.id,
            "applied_on": day.isoformat(),
            "facts": body.facts.given(),
            "payee": policy.payee,
        }
        return [self._change("subsidy.applied", state, payload, day, today)]

    def _check(
        self, state: PersonCase, body: CheckSubsidy, command: Command, today: dt.date
    ) -> list[Change]:
        app = self._application(state, body.application_id, command)
        if app.status not in _OPEN:
            raise CommandRejectedError(
                f"{command.command_type}: {app.application_id} is {app.status}; only an "
                "application not yet decided is checked",
                code="conflict",
            )
        day = self._day(body.on, today, command)
        done, facts, groups = self._run_check(state, app, day, command)
        payload = {
            "application_id": app.application_id,
            "subsidy": app.subsidy,
            "policy": done.policy,
            "version": done.version,
            "eligible": done.eligible,
            "conditions": [c.model_dump(mode="json") for c in done.conditions][:64],
            "failed": list(done.failed)[:64],
            "amount": str(done.amount),
            "months": done.months,
            "first_month": month_text(done.first_month),
            "total": str(done.total),
            "checked_on": day.isoformat(),
            "groups": groups,
            "facts": facts,
        }
        return [self._change("subsidy.checked", state, payload, day, today)]

    def _approve(
        self, state: PersonCase, body: ApproveSubsidy, command: Command, today: dt.date
    ) -> list[Change]:
        app = self._application(state, body.application_id, command)
        if app.status != "checked" or not app.eligible:
            why = "was not found eligible" if app.status == "checked" else f"is {app.status}"
            raise CommandRejectedError(
                f"{command.command_type}: {app.application_id} {why}; only a checked, "
                "eligible application is approved",
                code="conflict",
            )
        self._maker_checker(state, app, command)
        day = self._day(body.on, today, command)
        first = app.first_month if app.first_month is not None else month_of(day)
        again, _, _ = self._run_check(state, app, day, command, first)
        same = (again.eligible, again.amount, again.months) == (True, app.amount, app.months)
        if not same:
            said = "; ".join(again.failed) or (
                f"now {again.amount} × {again.months} instead of {app.amount} × {app.months}"
            )
            raise CommandRejectedError(
                f"{command.command_type}: the check of {app.application_id} no longer holds "
                f"on {day}: {said}; check it again",
                code="conflict",
            )
        amount = again.amount
        payload = {
            "application_id": app.application_id,
            "subsidy": app.subsidy,
            "policy": app.policy,
            "version": app.version,
            "amount": str(amount),
            "months": again.months,
            "first_month": month_text(first),
            "total": str(amount * again.months),
            "approved_on": day.isoformat(),
        }
        changes = [self._change("subsidy.approved", state, payload, day, today)]
        # the months already begun are due now; later months fall due on the calendar
        due_until = min(first + again.months - 1, month_of(day))
        for month in range(first, due_until + 1):
            entitled = {
                "application_id": app.application_id,
                "subsidy": app.subsidy,
                "amount": str(amount),
                "month": month_text(month),
                "version": app.version,
            }
            changes.append(self._change("subsidy.entitled", state, entitled, day, today))
        return changes

    def _maker_checker(self, state: PersonCase, app: Application, command: Command) -> None:
        actor = command.actor
        roles: list[tuple[str | None, str]] = [
            (app.applicant, "applied for it"),
            (app.officer, "was the case's officer when it was applied for"),
            (state.officer, "is the case's officer"),
            (app.checker, "checked it"),
        ]
        for who, what in roles:
            if who is not None and who == actor:
                raise CommandRejectedError(
                    f"{command.command_type}: {actor} {what}; a second person approves "
                    "(neither the applicant, nor the case's officer, nor the one who checked)",
                    code="forbidden",
                )

    def _reject(
        self, state: PersonCase, body: RejectSubsidy, command: Command, today: dt.date
    ) -> list[Change]:
        app = self._application(state, body.application_id, command)
        if app.status not in _OPEN:
            raise CommandRejectedError(
                f"{command.command_type}: {app.application_id} is {app.status}; an approved "
                "application is stopped, not rejected",
                code="conflict",
            )
        day = self._day(body.on, today, command)
        payload = {
            "application_id": app.application_id,
            "subsidy": app.subsidy,
            "reason": body.reason,
            "failed": list(app.failed)[:64],
            "rejected_on": day.isoformat(),
        }
        return [self._change("subsidy.rejected", state, payload, day, today)]


def _recorded(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded facts a :class:`FactValues` holds (derived ones left out)."""
    return {k: v for k, v in facts.items() if k in FactValues.model_fields and v is not None}
