"""What happens to a person's money after approval, decided on their case:

    record_payment ─► subsidy.paid           a month's entitlement paid: by hand never more
                      (subsidy.recovery_ordered)  than is still due; a bank's return line
                                             (a batch's) is recorded whatever is due, since
                                             the money left, and its excess ordered back
    correct_facts ──► person.facts_recorded  facts found wrong all along (since a day):
                      (recognition follows)  every application approved since is checked
                      subsidy.entitled …     again as of its approval day with the corrected
                      subsidy.stopped        facts; each month's entitlement is made again
                      subsidy.recovery_ordered  (arrears: due; less: owed back), and what
                      (subsidy.recovery_cancelled)  was paid beyond it is ordered back; an
                                             earlier order that now asks too much is cut
    settle_recovery ► subsidy.recovered      money ordered back came in

The difference owed or due is computed, never typed: the recalculation judges the same
policy with the same catalogue version (the approval day's) and only the facts corrected.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from cases.case_state import PersonCase
from events.commands import Change, Command
from events.errors import CommandRejectedError
from events.payload_base import Ident, IsoDate, Money, Text
from events.payloads_cases import FactValues
from events.payloads_money import YearMonth
from subsidies.application_state import Application, applications
from subsidies.deciding import MoneyDecisions
from subsidies.eligibility import month_of, month_text

__all__ = [
    "CorrectFacts",
    "OrderRecovery",
    "RecordPayment",
    "SettleRecovery",
    "SettlementDecisions",
]

_ZERO = Decimal(0)
_DECIDED = ("approved", "entitled", "paid")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordPayment(_Body):
    """A month's entitlement was paid (from a payment batch's reconciled return)."""

    application_id: Ident
    month: YearMonth
    amount: Money
    paid_on: IsoDate | None = None
    batch_id: Ident | None = None


class CorrectFacts(_Body):
    """Facts found wrong: ``facts`` held all along from ``since``, as ``document`` shows."""

    facts: FactValues
    since: IsoDate
    document: Text
    on: IsoDate | None = None


class OrderRecovery(_Body):
    """Order money back from an application (a confirmed fraud case's recovery): never
    more than was paid and is not ordered back already. A periodic subsidy stops from the
    next month."""

    application_id: Ident
    amount: Money
    reason: Text
    fraud_case_id: Ident | None = None
    on: IsoDate | None = None


class SettleRecovery(_Body):
    """Money ordered back came in (all of the order, or part of it)."""

    application_id: Ident
    order_id: Ident
    amount: Money
    on: IsoDate | None = None


def _month_id(text: str) -> int:
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1


class SettlementDecisions(MoneyDecisions):
    """Payments, corrections and recoveries of a person's applications."""

    def _recovery(
        self,
        state: PersonCase,
        app: Application,
        order: str,
        amount: Decimal,
        reason: str,
        day: dt.date,
        today: dt.date,
        **more: object,
    ) -> Change:
        """A ``subsidy.recovery_ordered`` of ``app`` (order id ``ro-<order>``, cut to 40)."""
        ordered = {"application_id": app.application_id, "subsidy": app.subsidy,
                   "order_id": f"ro-{order}"[:40], "amount": str(amount),
                   "reason": reason[:500], "ordered_on": day.isoformat(), **more}  # fmt: skip
        return self._change("subsidy.recovery_ordered", state, ordered, day, today)

    def _settle_difference(
        self,
        state: PersonCase,
        app: Application,
        owed: dict[int, Decimal],
        command: Command,
        reason: str,
        day: dt.date,
        today: dt.date,
        **more: object,
    ) -> list[Change]:
        """What the entitlements ``owed`` (about to be) leave to settle: the order of what
        was paid beyond them and is not ordered back yet; or, when earlier orders ask back
        more than is now overpaid (a correction undone, a month's attendance raised again),
        the unsettled part of those orders cancelled, the latest first. A fraud case's
        order stands (its auditor decided it); what was recovered already stays recovered."""
        over = app.excess(owed)  # month by month: a month still due offsets nothing
        if over > 0:
            order = str(uuid.uuid5(command.command_id, app.application_id))
            return [self._recovery(state, app, order, over, reason, day, today, **more)]
        out: list[Change] = []
        beyond = app.ordered_beyond(owed)
        for order in reversed(list(app.orders)):
            if beyond <= 0:
                break
            cut = min(app.outstanding(order), beyond)
            if order in app.order_cases or cut <= 0:
                continue
            beyond -= cut
            cancelled = {"application_id": app.application_id, "subsidy": app.subsidy,
                         "order_id": order, "amount": str(cut),
                         "reason": f"撤减 no longer owed back: {reason}"[:500],
                         "cancelled_on": day.isoformat()}  # fmt: skip
            out.append(self._change("subsidy.recovery_cancelled", state, cancelled, day, today))
        return out

    def _record_payment(
        self, state: PersonCase, body: RecordPayment, command: Command, today: dt.date
    ) -> list[Change]:
        app = self._application(state, body.application_id, command)
        month = _month_id(body.month)
        from_bank = body.batch_id is not None  # the money left: the payment is a fact
        if not from_bank and (
            app.status not in (*_DECIDED, "stopped") or month not in app.entitled
        ):
            raise CommandRejectedError(
                f"{command.command_type}: {app.application_id} has no entitlement for "
                f"{body.month} ({app.status}); only what is entitled is paid",
                code="conflict",
            )
        due = app.due(month)
        if body.amount > due and body.batch_id is None:
            raise CommandRejectedError(
                f"{command.command_type} payload.amount: {body.amount} is more than the "
                f"{due} still due for {body.month} (entitled {app.entitled[month]}, paid "
                f"{app.paid.get(month, _ZERO)}); a month is not paid twice",
                code="conflict",
            )
        day = self._day(body.paid_on, today, command, "paid_on")
        payload = {
            "application_id": app.application_id,
            "subsidy": app.subsidy,
            "amount": str(body.amount),
            "month": body.month,
            "paid_on": day.isoformat(),
            "batch_id": body.batch_id,
        }
        changes = [self._change("subsidy.paid", state, payload, day, today)]
        over = body.amount - max(due, _ZERO)
        if over > 0:  # the bank paid it (a batch's line): recorded, and the excess ordered back
            why = (f"多发 paid beyond what was due for {body.month} "
                   f"(batch {body.batch_id}: {body.amount}, due {max(due, _ZERO)})")  # fmt: skip
            order = str(uuid.uuid5(command.command_id, "overpaid"))
            changes.append(self._recovery(state, app, order, over, why, day, today))
        return changes

    def _correct_facts(
        self, state: PersonCase, body: CorrectFacts, command: Command, today: dt.date
    ) -> list[Change]:
        self._need_registered(state, command)
        day = self._day(body.on, today, command)
        since = self._day(body.since, today, command, "since")
        facts = body.facts.given()
        if not facts:
            raise CommandRejectedError(
                f"{command.command_type} payload.facts: give at least one fact", code="invalid"
            )
        recorded = {
            "facts": facts,
            "observed_on": day.isoformat(),
            "source": "correction",
            "document": f"{body.document} (held since {since})"[:500],
        }
        changes = [self._change("person.facts_recorded", state, recorded, day, today)]
        if state.open:  # the recognition follows the corrected facts (a closed case keeps it)
            changes = self._then(state, changes, command, day, today)
        after = self._fold(state, changes, command, day)
        for app in sorted(applications(after).values(), key=lambda a: a.application_id):
            decided = app.approved_on
            if app.status not in (*_DECIDED, "stopped") or decided is None or decided < since:
                continue
            changes += self._recalculate(after, app, decided, body, command, day, today)
        return changes

    def _recalculate(
        self,
        state: PersonCase,
        app: Application,
        decided: dt.date,
        body: CorrectFacts,
        command: Command,
        day: dt.date,
        today: dt.date,
    ) -> list[Change]:
        """An approved application judged again as of its approval day with the corrected
        facts: the months' entitlements made again and what was overpaid ordered back."""
        again, _, _ = self._run_check(
            state, app, decided, command, app.first_month, weigh_held=False
        )
        first = app.first_month if app.first_month is not None else month_of(decided)
        covered = range(first, first + again.months) if again.eligible else range(0)
        base = {"application_id": app.application_id, "subsidy": app.subsidy}
        reason = f"更正 correction: {body.document}"[:500]
        out: list[Change] = []
        owed = dict(app.entitled)
        for month, was in sorted(app.entitled.items()):
            kept = was if app.on_attendance else again.amount  # a post's: its attendance's
            now = kept if month in covered else Decimal("0.00")
            if now != was:
                owed[month] = now
                entitled = {**base, "amount": str(now), "month": month_text(month),
                            "version": app.version, "reason": reason}  # fmt: skip
                out.append(self._change("subsidy.entitled", state, entitled, day, today))
        if not again.eligible and app.status != "stopped":
            stopped = {**base, "reason": reason, "from_month": month_text(first),
                       "failed": list(again.failed)[:64]}  # fmt: skip
            out.append(self._change("subsidy.stopped", state, stopped, day, today))
        out += self._settle_difference(state, app, owed, command, reason, day, today,
                                       failed=list(again.failed)[:64])  # fmt: skip
        return out

    def _order_recovery(
        self, state: PersonCase, body: OrderRecovery, command: Command, today: dt.date
    ) -> list[Change]:
        app = self._application(state, body.application_id, command)
        paid = sum(app.paid.values(), _ZERO)
        left = paid - sum(app.orders.values(), _ZERO)
        if left <= 0:
            raise CommandRejectedError(
                f"{command.command_type}: {app.application_id} has nothing paid left to order "
                f"back (paid {paid}, ordered back {paid - left})",
                code="conflict",
            )
        day = self._day(body.on, today, command)
        amount = min(body.amount, left)
        base = {"application_id": app.application_id, "subsidy": app.subsidy}
        order = str(uuid.uuid5(command.command_id, app.application_id))
        changes = [self._recovery(state, app, order, amount, body.reason, day, today,
                                  fraud_case_id=body.fraud_case_id)]  # fmt: skip
        last = app.last_month
        if app.status in ("approved", "entitled") and last is not None and last > month_of(day):
            stopped = {**base, "reason": body.reason[:500],
                       "from_month": month_text(month_of(day) + 1)}  # fmt: skip
            changes.append(self._change("subsidy.stopped", state, stopped, day, today))
        return changes

    def _settle_recovery(
        self, state: PersonCase, body: SettleRecovery, command: Command, today: dt.date
    ) -> list[Change]:
        app = self._application(state, body.application_id, command)
        if body.order_id not in app.orders:
            known = ", ".join(sorted(app.orders)) or "none"
            raise CommandRejectedError(
                f"{command.command_type} payload.order_id: {app.application_id} has no "
                f"recovery order {body.order_id!r} (orders: {known})",
                code="not_found",
            )
        left = app.outstanding(body.order_id)
        if body.amount <= 0 or body.amount > left:
            raise CommandRejectedError(
                f"{command.command_type} payload.amount: {body.amount} is not within the "
                f"{left} order {body.order_id} still asks back",
                code="conflict",
            )
        day = self._day(body.on, today, command)
        payload = {
            "application_id": app.application_id,
            "subsidy": app.subsidy,
            "amount": str(body.amount),
            "reason": "追回 recovery order settled",
            "order_id": body.order_id,
            "recovered_on": day.isoformat(),
            "fraud_case_id": app.order_cases.get(body.order_id),
        }
        return [self._change("subsidy.recovered", state, payload, day, today)]

    def _need_registered(self, state: PersonCase, command: Command) -> None:
        if not state.registered:
            raise CommandRejectedError(
                f"{command.command_type}: {state.person_id} is not registered; register the "
                "person first (POST /api/persons)",
                code="not_found",
            )
