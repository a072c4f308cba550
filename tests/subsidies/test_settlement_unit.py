"""After approval (pure: the case without a broker): a month is paid once, a corrected fact
makes the entitlements again as of the approval day and orders back what was overpaid,
and a recovery order is settled in parts, never beyond what it asks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from case_harness import CaseHarness
from test_applications_unit import GRADUATE, OLDER

from events.errors import CommandRejectedError
from subsidies.application_state import applications
from subsidies.replay import replay_money

D = dt.date(2026, 3, 2)
NOT_LOW_INCOME = {
    "low_income": False,
    "minimum_living_allowance": False,
    "extreme_poverty": False,
    "zero_employment_household": False,
}


def _approved(case: CaseHarness, policy: str, on: dt.date = D, **facts: Any) -> str:
    [applied] = case.send("apply_subsidy", {"policy": policy, "facts": facts}, on=on)
    app = str(applied.payload_dict()["application_id"])
    [checked] = case.send("check_subsidy", {"application_id": app}, on=on)
    assert checked.payload_dict()["eligible"], checked.payload_dict()["failed"]
    case.send("approve_subsidy", {"application_id": app}, on=D, actor="chief-zhang")
    return app


def _pay(case: CaseHarness, app: str, month: str, amount: str, batch: str | None = None) -> Any:
    body = {"application_id": app, "month": month, "amount": amount}
    return case.send(
        "record_payment", body | ({"batch_id": batch} if batch else {}), on=D, actor="finance-qin"
    )


def test_a_month_is_paid_once_and_only_what_is_entitled(case: CaseHarness) -> None:
    case.send("register", GRADUATE, on=D)
    app = _approved(case, "job_search_one_time")
    with pytest.raises(CommandRejectedError, match="no entitlement for 2026-04"):
        _pay(case, app, "2026-04", "1500.00")
    _pay(case, app, "2026-03", "1000.00")  # part now, the rest later
    assert applications(case.state)[app].status == "entitled"
    with pytest.raises(CommandRejectedError, match=r"more than the 500\.00 still due") as twice:
        _pay(case, app, "2026-03", "1500.00")
    assert twice.value.code == "conflict"
    _pay(case, app, "2026-03", "500.00")
    held = applications(case.state)[app]
    assert held.status == "paid" and held.paid == {2026 * 12 + 2: Decimal("1500.00")}


def test_a_bank_line_paid_beyond_what_is_due_is_recorded_and_ordered_back(
    case: CaseHarness,
) -> None:
    """The bank's return is a fact (the money left): a line for a month already paid is
    recorded, and the excess is ordered back at once."""
    case.send("register", GRADUATE, on=D)
    app = _approved(case, "job_search_one_time")
    _pay(case, app, "2026-03", "1500.00", batch="pb-371302-2026-03-1")
    again = _pay(case, app, "2026-03", "1500.00", batch="pb-371302-2026-04-1")
    assert case.types(again) == ["subsidy.paid", "subsidy.recovery_ordered"]
    order = again[1].payload_dict()
    assert order["amount"] == "1500.00" and "pb-371302-2026-04-1" in order["reason"]
    held = applications(case.state)[app]
    assert held.paid == {2026 * 12 + 2: Decimal("3000.00")} and held.excess() == 0
    assert held.orders == {order["order_id"]: Decimal("1500.00")}


def test_a_corrected_household_orders_the_graduates_subsidy_back(case: CaseHarness) -> None:
    case.send("register", GRADUATE, on=D)
    app = _approved(case, "job_search_one_time")
    _pay(case, app, "2026-03", "1500.00")
    # the civil-affairs review finds the household was never low-income
    corrected = case.send(
        "correct_facts",
        {"facts": NOT_LOW_INCOME, "since": "2025-01-01", "document": "民政复核 2026-041"},
        on=dt.date(2026, 4, 10),
    )
    assert case.types(corrected) == [
        "person.facts_recorded",
        "person.recognition_revoked",
        "subsidy.entitled",
        "subsidy.stopped",
        "subsidy.recovery_ordered",
    ]
    entitled, stopped, ordered = (e.payload_dict() for e in corrected[2:])
    assert (entitled["month"], entitled["amount"]) == ("2026-03", "0.00")
    assert "民政复核 2026-041" in entitled["reason"]
    assert stopped["failed"] == [
        "in_low_income_graduate (is False)",
        "household_in_need (is False)",
    ]
    assert (ordered["amount"], ordered["ordered_on"]) == ("1500.00", "2026-04-10")
    order = ordered["order_id"]
    # a second correction of the same orders nothing more (what is ordered counts)
    again = case.send(
        "correct_facts",
        {"facts": {"low_income": False}, "since": "2025-01-01", "document": "再次复核"},
        on=dt.date(2026, 4, 11),
    )
    assert "subsidy.recovery_ordered" not in case.types(again)
    # settled in two parts; never more than the order asks
    settle = {"application_id": app, "order_id": order}
    case.send("settle_recovery", settle | {"amount": "500.00"}, on=dt.date(2026, 4, 20))
    with pytest.raises(CommandRejectedError, match="not within the 1000.00 order"):
        case.send("settle_recovery", settle | {"amount": "1500.00"}, on=dt.date(2026, 4, 20))
    case.send("settle_recovery", settle | {"amount": "1000.00"}, on=dt.date(2026, 4, 21))
    held = applications(case.state)[app]
    assert held.outstanding(order) == 0 and held.status == "stopped"
    with pytest.raises(CommandRejectedError, match="no recovery order 'ro-x'"):
        case.send("settle_recovery", settle | {"order_id": "ro-x", "amount": "1"}, on=D)


def test_a_correction_before_the_approval_window_changes_nothing(case: CaseHarness) -> None:
    case.send("register", GRADUATE, on=D)
    app = _approved(case, "job_search_one_time")
    # facts said to hold only from after the approval: decisions before stand
    later = case.send(
        "correct_facts",
        {"facts": NOT_LOW_INCOME, "since": "2026-03-05", "document": "自3月5日起"},
        on=dt.date(2026, 3, 10),
    )
    assert not [t for t in case.types(later) if t.startswith("subsidy.")]
    assert applications(case.state)[app].status == "entitled"


def test_a_monthly_subsidy_found_wrong_is_stopped_and_its_paid_months_ordered_back(
    case: CaseHarness,
) -> None:
    case.send("register", OLDER, on=dt.date(2026, 1, 5))
    app = _approved(
        case,
        "social_insurance_flexible",
        on=dt.date(2026, 1, 5),
        employment_kind="flexible",
        insured=True,
        contributions_monthly="900",
    )
    _pay(case, app, "2026-01", "603.00")
    _pay(case, app, "2026-02", "603.00")
    # the ID was mistyped: the person is 36, not 57 (not an older worker after all)
    corrected = case.send(
        "correct_facts",
        {"facts": {"birth_date": "1990-09-15"}, "since": "2026-01-01", "document": "身份证号更正"},
        on=dt.date(2026, 3, 20),
    )
    subsidy = [e for e in corrected if e.event_type.startswith("subsidy.")]
    assert [
        (e.event_type, e.payload_dict().get("month"), e.payload_dict().get("amount"))
        for e in subsidy
    ] == [
        ("subsidy.entitled", "2026-01", "0.00"),
        ("subsidy.entitled", "2026-02", "0.00"),
        ("subsidy.entitled", "2026-03", "0.00"),
        ("subsidy.stopped", None, None),
        ("subsidy.recovery_ordered", None, "1206.00"),
    ]
    with pytest.raises(CommandRejectedError, match="more than the 0.00 still due"):
        _pay(case, app, "2026-03", "603.00")


def test_every_money_decision_replays_as_of_its_day(case: CaseHarness) -> None:
    """The graduate's path replayed as of each day: the check and the approval with the
    facts known then and the catalogue version they name, the recovery order as what was
    paid beyond the corrected entitlements; a decision the log misstates does not."""
    case.send("register", GRADUATE, on=D)
    app = _approved(case, "job_search_one_time")
    _pay(case, app, "2026-03", "1500.00")
    case.send(
        "correct_facts",
        {"facts": NOT_LOW_INCOME, "since": "2025-01-01", "document": "民政复核 2026-041"},
        on=dt.date(2026, 4, 10),
    )
    aggregate = case.aggregate
    [money] = aggregate.extensions

    def replayed(as_of: dt.date, events: list[Any] | None = None) -> list[dict[str, Any]]:
        return replay_money(case.state.person_id, events or case.events, aggregate, money, as_of)  # type: ignore[arg-type]

    before = replayed(dt.date(2026, 3, 1))
    assert before == []  # nothing decided yet
    on_d = replayed(D)
    assert [(m["event_type"], m["reproduced"]) for m in on_d] == [
        ("subsidy.checked", True),
        ("subsidy.approved", True),
    ]
    assert on_d[0]["replayed"]["eligible"] is True and on_d[0]["version"] == "370700@2"
    later = replayed(dt.date(2026, 4, 30))
    assert [m["event_type"] for m in later][-1] == "subsidy.recovery_ordered"
    assert all(m["reproduced"] for m in later), later
    assert later[-1]["replayed"] == {"overpaid": "1500.00"}
    # a check whose amount the log misstates is told apart
    wrong = [
        e.model_copy(update={"payload": e.payload.model_copy(update={"amount": Decimal("9000")})})
        if e.event_type == "subsidy.checked"
        else e
        for e in case.events
    ]
    [checked, *_] = replayed(D, wrong)
    assert not checked["reproduced"]
    assert checked["differences"] == ["amount: the log 9000, the replay 1500.00"]


def test_a_correction_undone_cuts_the_unsettled_part_of_its_order(case: CaseHarness) -> None:
    """The household is found not low-income (1,500 ordered back, 500 of it repaid), then the
    review is overturned: the subsidy is entitled again and the order is cut by the 1,000 not
    yet repaid; what came back stays recovered."""
    case.send("register", GRADUATE, on=D)
    app = _approved(case, "job_search_one_time")
    _pay(case, app, "2026-03", "1500.00")
    wrong = case.send(
        "correct_facts",
        {"facts": NOT_LOW_INCOME, "since": "2025-01-01", "document": "民政复核 2026-041"},
        on=dt.date(2026, 4, 10),
    )
    order = wrong[-1].payload_dict()["order_id"]
    settle = {"application_id": app, "order_id": order, "amount": "500.00"}
    case.send("settle_recovery", settle, on=dt.date(2026, 4, 20))
    right = case.send(
        "correct_facts",
        {"facts": {"low_income": True}, "since": "2025-01-01", "document": "复议 2026-007"},
        on=dt.date(2026, 5, 6),
    )
    assert case.types(right)[-2:] == ["subsidy.entitled", "subsidy.recovery_cancelled"]
    entitled, cut = (e.payload_dict() for e in right[-2:])
    assert (entitled["month"], entitled["amount"]) == ("2026-03", "1500.00")
    assert (cut["order_id"], cut["amount"], cut["cancelled_on"]) == (order, "1000.00", "2026-05-06")
    held = applications(case.state)[app]
    assert held.orders == {order: Decimal("500.00")} and held.outstanding(order) == 0
    with pytest.raises(CommandRejectedError, match="not within the 0.00 order"):
        case.send("settle_recovery", settle, on=dt.date(2026, 5, 7))
    aggregate = case.aggregate
    [money] = aggregate.extensions
    replayed = replay_money(
        case.state.person_id, case.events, aggregate, money, dt.date(2026, 5, 6)
    )  # type: ignore[arg-type]
    assert [m["event_type"] for m in replayed][-2:] == [
        "subsidy.recovery_ordered", "subsidy.recovery_cancelled"]  # fmt: skip
    assert all(m["reproduced"] for m in replayed), replayed
    assert replayed[-1]["replayed"] == {"cut": "1000.00"}
    # the same correction again cuts nothing more
    again = case.send(
        "correct_facts",
        {"facts": {"low_income": True}, "since": "2025-01-01", "document": "复议 2026-007"},
        on=dt.date(2026, 5, 7),
    )
    assert "subsidy.recovery_cancelled" not in case.types(again)


def test_a_fraud_cases_order_is_not_cut_by_a_correction(case: CaseHarness) -> None:
    case.send("register", GRADUATE, on=D)
    app = _approved(case, "job_search_one_time")
    _pay(case, app, "2026-03", "1500.00")
    fraud = {"application_id": app, "amount": "1500.00", "reason": "骗补确认 fc-9",
             "fraud_case_id": "fc-9"}  # fmt: skip
    case.send("order_recovery", fraud, on=dt.date(2026, 4, 2), actor="eams.casework")
    again = case.send(
        "correct_facts",
        {"facts": {"low_income": True}, "since": "2025-01-01", "document": "复核"},
        on=dt.date(2026, 4, 3),
    )
    assert not {"subsidy.recovery_cancelled", "subsidy.recovery_ordered"} & set(case.types(again))
    held = applications(case.state)[app]
    assert sum(held.orders.values()) == Decimal("1500.00")
