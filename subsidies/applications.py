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

Payments, corrections of facts and recoveries follow in :mod:`subsidies.settlement`.

An application is decided on the person's case, not on an aggregate of its own, so that two
applications of incompatible policies, or of the same policy twice, are judged one after the
other against what the person already holds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from cases.case_state import PersonCase
from cases.person import Verb
from events.commands import Change, Command
from events.envelope import Envelope
from events.errors import CommandRejectedError
from events.payload_base import Ident, IsoDate, Masked, Reference, Text
from events.payloads_money import AccountRef, ApplicationFacts
from subsidies.application_state import (
    OPEN,
    SUBSIDY_EVENTS,
    Application,
    applications,
    apply_subsidy_event,
)
from subsidies.eligibility import month_of, month_text
from subsidies.posts import PostDecisions, RecordAttendance, VacatePost
from subsidies.settlement import (
    CorrectFacts,
    OrderRecovery,
    RecordPayment,
    SettleRecovery,
)

__all__ = ["ApplySubsidy", "ApproveSubsidy", "CheckSubsidy", "RejectSubsidy", "SubsidyDecisions"]

# -- the command bodies -----------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApplySubsidy(_Body):
    """Apply for a policy of the person's city (the catalogue in force on ``on``)."""

    policy: Ident
    facts: ApplicationFacts = ApplicationFacts()
    application_id: Reference | None = None
    """Given by the caller (a form's number, never a person's) or derived from the
    command id."""
    on: IsoDate | None = None
    payee_account_ref: AccountRef | None = None
    """The account to pay into, as the route's keyed pseudonym of the clear number."""
    payee_account_masked: Masked | None = None
    post_region: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] | None = None
    """The county of the public-welfare post ``facts.post_id`` (the route reads it from
    the post: an applicant does not say it)."""
    post_opened_on: IsoDate | None = None
    """The day that post opened (read from the post like its county)."""


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


class EntitleDue(_Body):
    """Entitle the months of approved periodic subsidies begun by ``on`` (the calendar's:
    sent by the casework reactor once a month per person)."""

    on: IsoDate | None = None


# -- the decisions ------------------------------------------------------------------------


class SubsidyDecisions(PostDecisions):
    """The subsidy verbs of a person's case, with the policy catalogue they check against
    (the extension of :class:`cases.person.PersonAggregate` that carries the money)."""

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
            "entitle_due": (EntitleDue, self._entitle_due),
            "record_payment": (RecordPayment, self._record_payment),
            "correct_facts": (CorrectFacts, self._correct_facts),
            "settle_recovery": (SettleRecovery, self._settle_recovery),
            "order_recovery": (OrderRecovery, self._order_recovery),
            "record_attendance": (RecordAttendance, self._record_attendance),
            "vacate_welfare_post": (VacatePost, self._vacate_post),
        }

    def apply(self, state: PersonCase, event: Envelope) -> PersonCase:
        """The case after one of its subsidy events."""
        return apply_subsidy_event(state, event)

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
        pending = [a for a in held.values() if a.policy == policy.id and a.status in OPEN]
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
            "payee_account_ref": body.payee_account_ref,
            "payee_account_masked": body.payee_account_masked,
            "post_region": body.post_region,
            "post_opened_on": body.post_opened_on.isoformat() if body.post_opened_on else None,
        }
        return [self._change("subsidy.applied", state, payload, day, today)]

    def _check(
        self, state: PersonCase, body: CheckSubsidy, command: Command, today: dt.date
    ) -> list[Change]:
        app = self._application(state, body.application_id, command)
        if app.status not in OPEN:
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
        if app.on_attendance:  # a post is held from its approval: no month before it is paid
            first = max(first, month_of(day))
        again, _, _ = self._run_check(state, app, day, command, first)
        first = again.first_month  # a post's pay: never before the post opened
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
        if app.on_attendance:  # the post is taken; each month is entitled by its attendance
            assigned = {
                "post_id": app.post_id,
                "application_id": app.application_id,
                "starts_on": max(day, dt.date(first // 12, first % 12 + 1, 1)).isoformat(),
                "first_month": month_text(first),
                "last_month": month_text(first + again.months - 1),
                "months": again.months,
            }
            changes.append(self._change("welfare_post.assigned", state, assigned, day, today))
            return changes
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

    def _entitle_due(
        self, state: PersonCase, body: EntitleDue, command: Command, today: dt.date
    ) -> list[Change]:
        """Each month begun by the day of every approved application not stopped, not yet
        entitled: its approved amount (a month is entitled once; a stop ends the months)."""
        day = self._day(body.on, today, command)
        changes: list[Change] = []
        for app in sorted(applications(state).values(), key=lambda a: a.application_id):
            last = app.last_month
            if app.status not in ("approved", "entitled", "paid") or last is None:
                continue
            if app.amount is None or app.first_month is None or app.on_attendance:
                continue
            for month in range(app.first_month, min(last, month_of(day)) + 1):
                if month in app.entitled:
                    continue
                entitled = {
                    "application_id": app.application_id,
                    "subsidy": app.subsidy,
                    "amount": str(app.amount),
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
        if app.status not in OPEN:
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
