"""Public-welfare posts (乡村公益性岗位): the post, its slots, and what a person's case decides
of the post they hold.

A post is a command aggregate (kind ``welfare_post``, keyed by its id), the guard of its
slots::

    open ───► welfare_post.opened       a county's post: title, village, slots, the days a
                                        month of full attendance asks
    seat ───► welfare_post.seated       an assigned person takes a slot (sent by the
              welfare_post.overbooked   casework reactor for each assignment, in log order):
                                        every slot taken, the person is vacated again
    unseat ─► welfare_post.released     the holder left: the slot is free

The person's case is the guard of everything else. Taking a post is an application for
the post's pay (policy kind ``welfare_post_pay``, ``facts.post_id``): its check asks what
the policy asks (a person in employment difficulty or rural surplus labour, in the
Shandong default), that the post is in the person's county and that tenure is left
(:mod:`subsidies.tenure`); its approval, by a second person, is the assignment
(``welfare_post.assigned``). Then, on the case::

    record_attendance ─► welfare_post.attendance_recorded  a month's days present of the
                         subsidy.entitled                   days required: the month's pay
                         (subsidy.recovery_ordered)        in proportion (a correction that
                                                           pays less orders the excess back)
    vacate_welfare_post ► welfare_post.vacated             by an officer, at the tenure's
                          (subsidy.entitled 0 …)            end (the calendar), or when the
                                                           post was full; months after the
                                                           last lose what they were entitled

The months entitled are paid by the county's payment batches like any other subsidy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cases.case_state import PersonCase
from events.commands import Change, Command, parse_payload
from events.envelope import Envelope
from events.errors import CommandRejectedError
from events.payload_base import Ident, IsoDate, PersonId, Text
from events.payloads_money import YearMonth
from events.pii_scan import mask_text
from subsidies.application_state import Application, applications
from subsidies.eligibility import month_of, month_text
from subsidies.settlement import SettlementDecisions

__all__ = [
    "POST_EVENTS",
    "PostDecisions",
    "RecordAttendance",
    "VacatePost",
    "WelfarePost",
    "WelfarePostAggregate",
]

POST_EVENTS = frozenset(
    {"welfare_post.opened", "welfare_post.seated", "welfare_post.overbooked",
     "welfare_post.released"}
)  # fmt: skip
_CENT = Decimal("0.01")
_ZERO = Decimal(0)
#: The days of a month's full attendance when the post does not say.
DAYS_REQUIRED = 22
County = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Days = Annotated[int, Field(ge=0, le=31)]


def _month_id(text: str) -> int:
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1


# -- the post ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WelfarePost:
    """The state of one post."""

    post_id: str
    region: str | None = None
    title: str | None = None
    slots: int = 0
    days_required: int = DAYS_REQUIRED
    seated: dict[str, str] = field(default_factory=dict)
    """person id -> the application they hold it by."""

    @property
    def opened(self) -> bool:
        return self.region is not None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenPost(_Body):
    """A county opens a post."""

    region: County
    title: Text
    slots: Annotated[int, Field(ge=1, le=10000)] = 1
    village: Text | None = None
    employer_name: Text | None = None
    days_required: Annotated[int, Field(ge=1, le=31)] = DAYS_REQUIRED
    opened_on: IsoDate | None = None


class Seat(_Body):
    """An assigned person takes a slot (the reactor's, for each assignment)."""

    person_id: PersonId
    application_id: Ident | None = None


class Unseat(_Body):
    """The holder left."""

    person_id: PersonId


class WelfarePostAggregate:
    """The command aggregate of a public-welfare post."""

    kind = "welfare_post"
    event_types = POST_EVENTS

    def initial(self, aggregate_id: str) -> WelfarePost:
        """A post not opened."""
        return WelfarePost(post_id=aggregate_id)

    def region_of(self, state: WelfarePost) -> str | None:
        """The post's county."""
        return state.region

    def apply(self, state: WelfarePost, event: Envelope) -> WelfarePost:
        """The post after one of its events (a playbook's opening too)."""
        p = event.payload_dict()
        kind = event.event_type
        if kind == "welfare_post.opened" and not state.opened:
            return replace(state, region=event.region, title=p.get("title"),
                           slots=int(p.get("slots") or 1),
                           days_required=int(p.get("days_required") or DAYS_REQUIRED))  # fmt: skip
        if kind == "welfare_post.seated":
            seated = {**state.seated, str(p["person_id"]): str(p.get("application_id") or "")}
            return replace(state, seated=seated)
        if kind == "welfare_post.released":
            return replace(state, seated={k: v for k, v in state.seated.items()
                                          if k != p["person_id"]})  # fmt: skip
        return state

    def decide(self, state: WelfarePost, command: Command, now: dt.datetime) -> list[Change]:
        """The events a post's command leads to."""
        if command.verb == "open":
            body = parse_payload(OpenPost, command)
            if mask_text(state.post_id)[1]:
                raise CommandRejectedError(
                    f"{command.command_type}: the post's id holds what looks like a citizen ID "
                    "or a mobile number; give the county's own number for the post",
                    code="invalid",
                )
            if state.opened:
                raise CommandRejectedError(
                    f"{command.command_type}: post {state.post_id} is open already "
                    f"({state.title}, {state.slots} slots)",
                    code="conflict",
                )
            payload = {
                "post_id": state.post_id,
                **body.model_dump(mode="json", exclude_none=True, exclude={"region"}),
            }
            payload.setdefault("opened_on", now.date().isoformat())  # fmt: skip
            return [Change("welfare_post.opened", payload, region=body.region)]
        if not state.opened:
            raise CommandRejectedError(
                f"{command.command_type}: there is no welfare post {state.post_id}",
                code="not_found",
            )
        if command.verb == "seat":
            seat = parse_payload(Seat, command)
            if seat.person_id in state.seated:
                return []
            base = {"post_id": state.post_id, "person_id": seat.person_id,
                    "application_id": seat.application_id}  # fmt: skip
            if len(state.seated) >= state.slots:
                return [Change("welfare_post.overbooked", {**base, "slots": state.slots})]
            return [Change("welfare_post.seated", {**base, "seated": len(state.seated) + 1})]
        if command.verb == "unseat":
            unseat = parse_payload(Unseat, command)
            if unseat.person_id not in state.seated:
                return []
            payload = {"post_id": state.post_id, "person_id": unseat.person_id,
                       "seated": len(state.seated) - 1}  # fmt: skip
            return [Change("welfare_post.released", payload)]
        raise CommandRejectedError(
            f"{command.command_type}: a welfare post takes open, seat and unseat", code="invalid"
        )


# -- on the person's case ----------------------------------------------------------------


class RecordAttendance(_Body):
    """A month's attendance on the post the person holds."""

    post_id: Ident
    month: YearMonth
    days_present: Days
    days_required: Annotated[int, Field(ge=1, le=31)]
    on: IsoDate | None = None


class VacatePost(_Body):
    """The person leaves the post after ``last_month`` (default: the month of ``on``)."""

    post_id: Ident
    reason: Text
    cause: Literal["officer", "tenure", "full", "ineligible"] = "officer"
    last_month: YearMonth | None = None
    on: IsoDate | None = None


class PostDecisions(SettlementDecisions):
    """What the person's case decides of the post they hold."""

    def _holding(self, state: PersonCase, post_id: str) -> list[Application]:
        return [
            a
            for a in applications(state).values()
            if a.on_attendance and a.assigned and a.post_id == post_id
        ]

    def _record_attendance(
        self, state: PersonCase, body: RecordAttendance, command: Command, today: dt.date
    ) -> list[Change]:
        day = self._day(body.on, today, command)
        month = _month_id(body.month)
        if month > month_of(day):
            raise CommandRejectedError(
                f"{command.command_type} payload.month: {body.month} has not begun; record a "
                "month's attendance once it has",
                code="invalid",
            )
        if body.days_present > body.days_required:
            raise CommandRejectedError(
                f"{command.command_type} payload.days_present: {body.days_present} is more "
                f"than the {body.days_required} days required",
                code="invalid",
            )
        held = self._holding(state, body.post_id)
        app = next(
            (a for a in held if a.first_month is not None and a.last_month is not None
             and a.first_month <= month <= a.last_month),
            None,
        )  # fmt: skip
        if app is None or app.amount is None:
            spans = ", ".join(
                f"{month_text(a.first_month)}–{month_text(a.last_month)}"
                for a in held
                if a.first_month is not None and a.last_month is not None
            )
            raise CommandRejectedError(
                f"{command.command_type}: {state.person_id} did not hold post {body.post_id} "
                f"in {body.month} (held: {spans or 'never'})",
                code="conflict",
            )
        days = (body.days_present, body.days_required)
        if app.attendance.get(month) == days:
            return []  # the same sheet again
        share = Decimal(body.days_present) / Decimal(body.days_required)
        amount = min(app.amount, (app.amount * share).quantize(_CENT, rounding=ROUND_HALF_UP))
        base = {"application_id": app.application_id, "subsidy": app.subsidy}
        recorded = {**base, "post_id": body.post_id, "month": body.month,
                    "days_present": body.days_present, "days_required": body.days_required,
                    "amount": str(amount)}  # fmt: skip
        del recorded["subsidy"]
        changes = [self._change("welfare_post.attendance_recorded", state, recorded, day, today)]
        reason = f"考勤 attendance {body.days_present}/{body.days_required}"
        if app.entitled.get(month) != amount:
            entitled = {**base, "amount": str(amount), "month": body.month,
                        "version": app.version, "reason": reason}  # fmt: skip
            changes.append(self._change("subsidy.entitled", state, entitled, day, today))
        owed = {**app.entitled, month: amount}
        why = f"公益性岗位 {app.post_id}: {reason}"
        changes += self._settle_difference(state, app, owed, command, why, day, today)
        return changes

    def _vacate_post(
        self, state: PersonCase, body: VacatePost, command: Command, today: dt.date
    ) -> list[Change]:
        day = self._day(body.on, today, command)
        held = [
            a for a in self._holding(state, body.post_id)
            if a.first_month is not None and a.last_month is not None
            and not a.vacated
        ]  # fmt: skip
        if not held:
            if body.cause != "officer":
                return []  # the calendar's or the post's: left already
            raise CommandRejectedError(
                f"{command.command_type}: {state.person_id} does not hold post {body.post_id}",
                code="conflict",
            )
        if body.last_month and _month_id(body.last_month) > month_of(day):
            raise CommandRejectedError(
                f"{command.command_type} payload.last_month: {body.last_month} has not begun; "
                "record a leaving once it has happened (the slot is freed at once)",
                code="invalid",
            )
        app = held[-1]
        assert app.first_month is not None and app.last_month is not None
        if body.cause == "full":
            last = app.first_month - 1  # never held: every slot was taken before
        elif body.cause == "tenure":
            last = app.last_month
        else:
            given = _month_id(body.last_month) if body.last_month else month_of(day)
            last = min(given, app.last_month)
        if body.cause == "tenure" and month_of(day) <= last:
            return []  # not yet at its end
        base = {"application_id": app.application_id, "subsidy": app.subsidy}
        vacated = {"post_id": body.post_id, "application_id": app.application_id,
                   "reason": body.reason, "last_month": month_text(last),
                   "cause": body.cause}  # fmt: skip
        changes = [self._change("welfare_post.vacated", state, vacated, day, today)]
        owed = dict(app.entitled)
        for month, was in sorted(app.entitled.items()):
            if month > last and was != 0:
                owed[month] = Decimal("0.00")
                entitled = {**base, "amount": "0.00", "month": month_text(month),
                            "version": app.version,
                            "reason": f"离岗 left the post after {month_text(last)}"}  # fmt: skip
                changes.append(self._change("subsidy.entitled", state, entitled, day, today))
        why = f"公益性岗位 {app.post_id}: 离岗 {body.reason}"
        changes += self._settle_difference(state, app, owed, command, why, day, today)
        return changes
