"""Why a person's money was decided as it was: every subsidy decision replayed from the log
as of its day, with the facts known then and the catalogue version it names.

The person's events are folded in log order through the case (with its money). At each
``subsidy.checked`` the check is run again on its day with the facts folded so far (the
catalogue version in force then must be the one it names, and the outcome, failed
conditions, amount and months the same); at each ``subsidy.approved`` the approval's check
again; at each ``subsidy.recovery_ordered`` the amount must be what was then paid beyond the
entitlements (a corrected fact's or a bank's overpayment) or name the fraud case that
ordered it; at each ``subsidy.recovery_cancelled`` the cut must be what the orders then
asked back beyond what was overpaid, as far as unsettled. Each replay says
``reproduced`` or what differs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from cases.case_state import PersonCase
from cases.person import PersonAggregate
from events.clock import SHANGHAI
from events.commands import Command
from events.envelope import Envelope
from subsidies.application_state import applications
from subsidies.applications import SubsidyDecisions
from subsidies.eligibility import month_text

__all__ = ["MONEY_DECISIONS", "replay_money"]

MONEY_DECISIONS = ("subsidy.checked", "subsidy.approved", "subsidy.recovery_ordered",
                   "subsidy.recovery_cancelled")  # fmt: skip
_DAY = {"subsidy.checked": "checked_on", "subsidy.approved": "approved_on",
        "subsidy.recovery_ordered": "ordered_on",
        "subsidy.recovery_cancelled": "cancelled_on"}  # fmt: skip


def _day(event: Envelope, field: str) -> dt.date:
    given = event.payload_dict().get(field)
    return dt.date.fromisoformat(given) if given else event.occurred_at.astimezone(SHANGHAI).date()


def _command(person_id: str) -> Command:
    """The stand-in command a replayed check runs under (its messages name it)."""
    return Command(
        command_id=uuid.uuid4(),
        command_type="person.explain",
        aggregate_id=person_id,
        actor="eams.explain",
        source="eams.explain",
        issued_at=dt.datetime.now(SHANGHAI),
        payload={},
    )


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _replay(state: PersonCase, event: Envelope, money: SubsidyDecisions) -> dict[str, Any]:
    p = event.payload_dict()
    kind = event.event_type
    day = _day(event, _DAY[kind])
    app_id = str(p["application_id"])
    out: dict[str, Any] = {"event_id": str(event.event_id), "event_type": kind,
                           "application_id": app_id, "subsidy": p.get("subsidy"),
                           "day": day.isoformat(), "version": p.get("version")}  # fmt: skip
    app = applications(state).get(app_id)
    diff: list[str] = []
    if app is None:
        diff.append(f"{app_id} was not applied for before this decision")
    elif kind in ("subsidy.checked", "subsidy.approved"):
        first = app.first_month if kind == "subsidy.approved" else None
        try:
            again, _, _ = money._run_check(state, app, day, _command(state.person_id), first)
        except Exception as exc:  # noqa: BLE001 - a catalogue that lost the policy: say so
            diff.append(f"cannot be checked again: {exc}")
        else:
            out["replayed"] = {"version": again.version, "eligible": again.eligible,
                               "amount": str(again.amount), "months": again.months,
                               "failed": list(again.failed)}  # fmt: skip
            recorded_version = p.get("version") or app.version
            if again.version != recorded_version:
                diff.append(
                    f"the catalogue in force is {again.version}, the log names {recorded_version}"
                )
            eligible = bool(p["eligible"]) if kind == "subsidy.checked" else True
            if again.eligible != eligible:
                diff.append(f"the replay is {'eligible' if again.eligible else 'not eligible'}")
            if _money(p.get("amount")) not in (None, again.amount):
                diff.append(f"amount: the log {p.get('amount')}, the replay {again.amount}")
            if p.get("months") not in (None, again.months):
                diff.append(f"months: the log {p.get('months')}, the replay {again.months}")
            if kind == "subsidy.checked":
                if list(p.get("failed") or ()) != list(again.failed):
                    diff.append(
                        f"failed: the log {p.get('failed')}, the replay {list(again.failed)}"
                    )
                if p.get("first_month") != month_text(again.first_month):
                    diff.append(f"first month: the log {p.get('first_month')}, the replay "
                                f"{month_text(again.first_month)}")  # fmt: skip
    elif kind == "subsidy.recovery_cancelled":  # an order cut: what it asked too much
        order = str(p["order_id"])
        cut = min(app.outstanding(order), app.ordered_beyond())
        out["replayed"] = {"cut": str(cut)}
        if order in app.order_cases:
            diff.append(f"order {order} is fraud case {app.order_cases[order]}'s: it is not cut")
        elif cut != _money(p["amount"]):
            diff.append(f"the log cuts {p['amount']} from {order}; asked beyond then: {cut}")
    else:  # a recovery order
        if p.get("fraud_case_id"):
            out["by"] = f"fraud case {p['fraud_case_id']}"
        else:
            over = app.excess()  # month by month, as the order was made
            out["replayed"] = {"overpaid": str(over)}
            if over != _money(p["amount"]):
                diff.append(
                    f"the log orders {p['amount']} back; paid beyond the entitlements then: {over}"
                )
    out["reproduced"] = not diff
    out["differences"] = diff
    return out


def replay_money(
    person_id: str,
    events: Iterable[Envelope],
    aggregate: PersonAggregate,
    money: SubsidyDecisions,
    as_of: dt.date,
) -> list[dict[str, Any]]:
    """Every subsidy decision of ``events`` (the person's, in log order) made on or before
    ``as_of``, replayed."""
    state = aggregate.initial(person_id)
    out = []
    for event in events:
        if event.occurred_at.astimezone(SHANGHAI).date() > as_of:
            continue
        if event.event_type in MONEY_DECISIONS:
            out.append(_replay(state, event, money))
        if event.event_type in aggregate.event_types:
            state = aggregate.apply(state, event)
    return out
