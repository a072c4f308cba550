"""A person's subsidy applications as their case folds them (``PersonCase.extra``): what was
applied for, checked, approved, entitled month by month, paid, stopped, ordered back and
recovered.

``apply_subsidy_event`` is pure and total like the case's own fold: the log is what
happened, so no event is refused here. An entitlement is a month's amount (a later one for
the same month replaces it: a correction); what is owed back is what was paid beyond the
entitlements, less what was ordered back already.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from cases.case_state import PersonCase
from events.clock import SHANGHAI
from events.envelope import Envelope
from subsidies.eligibility import Held, month_of

__all__ = [
    "ATTENDANCE_PAID",
    "OPEN",
    "SUBSIDY_EVENTS",
    "Application",
    "apply_subsidy_event",
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
        "subsidy.stopped",
        "subsidy.paid",
        "subsidy.recovery_ordered",
        "subsidy.recovered",
        "subsidy.recovery_cancelled",
        "welfare_post.assigned",
        "welfare_post.vacated",
        "welfare_post.attendance_recorded",
    }
)
#: The policy kind paid on a post's attendance (its months are entitled by the attendance
#: recorded, not by the calendar).
ATTENDANCE_PAID = "welfare_post_pay"
#: The states of an application not yet decided.
OPEN = ("applied", "checked")
_KEY = "applications"
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Application:
    """One application as its events left it."""

    application_id: str
    subsidy: str
    policy: str | None = None
    status: str = "applied"
    """applied, checked, approved, rejected, entitled, paid (every month paid), stopped."""
    applied_on: dt.date | None = None
    applicant: str | None = None
    officer: str | None = None
    """The case's officer when it was applied for."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    account_ref: str | None = None
    """The payee's account (its keyed pseudonym)."""
    account_masked: str | None = None
    checker: str | None = None
    eligible: bool | None = None
    version: str | None = None
    amount: Decimal | None = None
    """Each entitlement (the one payment, or a month's), as checked and approved."""
    first_month: int | None = None
    months: int = 0
    failed: tuple[str, ...] = ()
    approver: str | None = None
    approved_on: dt.date | None = None
    entitled: Mapping[int, Decimal] = field(default_factory=dict)
    paid: Mapping[int, Decimal] = field(default_factory=dict)
    stopped_from: int | None = None
    orders: Mapping[str, Decimal] = field(default_factory=dict)
    """Recovery orders by id: the amount each orders back."""
    order_cases: Mapping[str, str] = field(default_factory=dict)
    """The fraud case each order came from (orders of a corrected fact: none)."""
    recovered: Mapping[str, Decimal] = field(default_factory=dict)
    """What was recovered against each order (``""``: without an order)."""
    post_region: str | None = None
    """A public-welfare post's county (its pay's applications), as the post says."""
    post_opened: int | None = None
    """The month the post opened, as the post says (its pay begins no earlier)."""
    assigned: bool = False
    """The person took the post (its approval); ``stopped_from`` ends it."""
    assigned_region: str | None = None
    """The person's county when they took the post (a later move does not undo it)."""
    vacated: bool = False
    """The person left the post (``stopped_from``: the month after the last held)."""
    attendance: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    """A post's months: (days present, days required) as last recorded."""

    @property
    def post_id(self) -> str | None:
        """The public-welfare post the application is for."""
        found = self.facts.get("post_id")
        return str(found) if found else None

    @property
    def on_attendance(self) -> bool:
        """Paid month by month on the attendance recorded (a public-welfare post's pay)."""
        return self.subsidy == ATTENDANCE_PAID

    @property
    def last_month(self) -> int | None:
        """The last month the application covers (None before a check)."""
        if self.first_month is None:
            return None
        last = self.first_month + max(self.months, 1) - 1
        return min(last, self.stopped_from - 1) if self.stopped_from is not None else last

    def held(self) -> Held:
        """What the eligibility check weighs against another application."""
        return Held(
            self.application_id, self.policy or self.subsidy, self.status,
            self.first_month, self.last_month,
        )  # fmt: skip

    def due(self, month: int) -> Decimal:
        """What is still to pay for ``month`` (its entitlement less what was paid)."""
        return self.entitled.get(month, _ZERO) - self.paid.get(month, _ZERO)

    def excess(self, owed: Mapping[int, Decimal] | None = None) -> Decimal:
        """What was paid beyond each month's entitlement (``owed``: the entitlements as they
        are about to be), summed month by month, less what was ordered back already: a month
        still due does not offset one paid too much (the batch pays the due one in full)."""
        return self.paid_beyond(owed) - sum(self.orders.values(), _ZERO)

    def paid_beyond(self, owed: Mapping[int, Decimal] | None = None) -> Decimal:
        """What was paid beyond each month's entitlement (``owed``), summed month by month."""
        owed = self.entitled if owed is None else owed
        return sum((max(paid - owed.get(m, _ZERO), _ZERO) for m, paid in self.paid.items()), _ZERO)

    def ordered_beyond(self, owed: Mapping[int, Decimal] | None = None) -> Decimal:
        """What the orders of overpayment (a fraud case's left out) ask back beyond what
        was paid beyond ``owed``: what a correction undone cuts from them."""
        ours = sum((v for k, v in self.orders.items() if k not in self.order_cases), _ZERO)
        return ours - self.paid_beyond(owed)

    def outstanding(self, order_id: str) -> Decimal:
        """What an order still asks back."""
        return self.orders.get(order_id, _ZERO) - self.recovered.get(order_id, _ZERO)


def applications(case: PersonCase) -> dict[str, Application]:
    """The person's applications by id."""
    found: dict[str, Application] = case.extra.get(_KEY, {})
    return found


def _month(text: Any) -> int | None:
    if not text:
        return None
    year, month = str(text).split("-")
    return int(year) * 12 + int(month) - 1


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value else None


def apply_subsidy_event(case: PersonCase, event: Envelope) -> PersonCase:  # noqa: C901 - one branch per type
    """The case after one of :data:`SUBSIDY_EVENTS`."""
    p = event.payload_dict()
    held = applications(case)
    if event.event_type.startswith("welfare_post."):
        return _post_event(case, event, p, held)
    app_id = str(p["application_id"])
    app = held.get(app_id) or Application(app_id, str(p["subsidy"]), policy=p.get("policy"))
    kind = event.event_type
    if kind == "subsidy.applied":
        if app_id in held:
            return case
        app = replace(
            app,
            applied_on=_date(p.get("applied_on")),
            applicant=event.actor,
            officer=case.officer,
            facts=dict(p.get("facts") or {}),
            account_ref=p.get("payee_account_ref"),
            account_masked=p.get("payee_account_masked"),
            post_region=p.get("post_region"),
            post_opened=month_of(dt.date.fromisoformat(p["post_opened_on"]))
            if p.get("post_opened_on")
            else None,
        )
    elif kind == "subsidy.checked":
        app = replace(
            app,
            status="checked" if app.status in OPEN else app.status,
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
            approved_on=_date(p.get("approved_on")),
            version=p.get("version") or app.version,
            amount=_money(p.get("amount")) or app.amount,
            first_month=_month(p.get("first_month")) or app.first_month,
            months=int(p.get("months") or app.months),
        )
    elif kind == "subsidy.rejected":
        app = replace(app, status="rejected", failed=tuple(p.get("failed") or app.failed))
    elif kind == "subsidy.entitled":
        month = _month(p["month"]) or 0
        status = "entitled" if app.status in ("approved", "paid") else app.status
        app = replace(
            app, status=status, entitled={**app.entitled, month: Decimal(str(p["amount"]))}
        )
    elif kind == "subsidy.stopped":
        app = replace(app, status="stopped", stopped_from=_month(p["from_month"]),
                      failed=tuple(p.get("failed") or app.failed))  # fmt: skip
    elif kind == "subsidy.paid":
        given = _month(p.get("month"))
        at = event.occurred_at.astimezone(SHANGHAI).date()
        paid_month = given if given is not None else month_of(at)
        amount = Decimal(str(p["amount"]))
        paid = {**app.paid, paid_month: app.paid.get(paid_month, _ZERO) + amount}
        if app_id not in held:  # paid with no application here (a playbook's one-time batch)
            app = replace(app, status="paid", amount=amount, first_month=paid_month, months=1,
                          entitled={paid_month: amount})  # fmt: skip
        app = replace(app, paid=paid)
        complete = len(app.entitled) >= max(app.months, 1)
        if app.status == "entitled" and complete and all(app.due(m) <= 0 for m in app.entitled):
            app = replace(app, status="paid")  # every month of it paid
    elif kind == "subsidy.recovery_ordered":
        order = str(p["order_id"])
        cases = (
            {**app.order_cases, order: p["fraud_case_id"]}
            if p.get("fraud_case_id")
            else app.order_cases
        )
        app = replace(app, orders={**app.orders, order: Decimal(str(p["amount"]))},
                      order_cases=cases)  # fmt: skip
    elif kind == "subsidy.recovery_cancelled":
        order = str(p["order_id"])
        left = app.orders.get(order, _ZERO) - Decimal(str(p["amount"]))
        app = replace(app, orders={**app.orders, order: max(left, _ZERO)})
    elif kind == "subsidy.recovered":
        order = str(p.get("order_id") or "")
        amount = Decimal(str(p["amount"]))
        app = replace(
            app, recovered={**app.recovered, order: app.recovered.get(order, _ZERO) + amount}
        )
    return replace(case, extra={**case.extra, _KEY: {**held, app_id: app}})


def _post_event(
    case: PersonCase, event: Envelope, p: Mapping[str, Any], held: dict[str, Application]
) -> PersonCase:
    """A public-welfare post's event on its application (an event without one: a post
    taken outside EAMS, nothing to fold)."""
    app = held.get(str(p.get("application_id") or ""))
    if app is None:
        return case
    kind = event.event_type
    if kind == "welfare_post.assigned":
        app = replace(app, assigned=True, assigned_region=event.region or case.region)
    elif kind == "welfare_post.vacated":
        last = _month(p.get("last_month"))
        if last is not None:
            ends = last + 1 if app.stopped_from is None else min(app.stopped_from, last + 1)
            app = replace(
                app, stopped_from=ends, vacated=True
            )  # its months up to the last are still paid
    elif kind == "welfare_post.attendance_recorded":
        month = _month(p["month"]) or 0
        days = (int(p["days_present"]), int(p["days_required"]))
        app = replace(app, attendance={**app.attendance, month: days})
    return replace(case, extra={**case.extra, _KEY: {**held, app.application_id: app}})
