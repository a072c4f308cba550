"""Public-welfare posts (pure: the aggregates without a broker): only an eligible person of
the post's county takes it, approved by a second person; a month's attendance entitles its
pay in proportion, once; a correction or a leaving orders back what was paid beyond it; the
tenure counts every post held; the post gives out no more slots than it has; and the
reactor seats, frees and ends holdings by itself."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from case_harness import CaseHarness
from test_applications_unit import GRADUATE

from events.clock import SHANGHAI
from events.commands import Command, event_id_for
from events.envelope import Envelope, internal_event
from events.errors import CommandRejectedError
from subsidies.application_state import applications
from subsidies.posts import WelfarePost, WelfarePostAggregate
from subsidies.reactions import MoneyReactions

D = dt.date(2026, 3, 2)
POST = "wp-370702-village-01"
RURAL: dict[str, Any] = {
    "region": "370702",  # 潍城区, 潍坊市
    "target_group": "rural_surplus_labour",
    "national_id_masked": "370702********4321",
    "gender": "male",
    "birth_date": "1980-05-01",
    "facts": {"hukou": "rural", "able_to_work": True, "willing_to_work": True,
              "transferred": False},
}  # fmt: skip
HALF_MINIMUM_WAGE = Decimal("1100.00")  # 潍坊 2026: half of 2,200


def _candidate(case: CaseHarness, on: dt.date = D, region: str = "370702") -> dict[str, Any]:
    body = {"policy": "welfare_post_pay", "post_region": region,
            "facts": {"employment_kind": "welfare_post", "post_id": POST}}  # fmt: skip
    [applied] = case.send("apply_subsidy", body, on=on)
    app = str(applied.payload_dict()["application_id"])
    [checked] = case.send("check_subsidy", {"application_id": app}, on=on)
    return checked.payload_dict()


def _assigned(case: CaseHarness, on: dt.date = D) -> str:
    checked = _candidate(case, on)
    assert checked["eligible"], checked["failed"]
    app = str(checked["application_id"])
    approved = case.send("approve_subsidy", {"application_id": app}, on=on, actor="chief-zhang")
    assert case.types(approved) == ["subsidy.approved", "welfare_post.assigned"]
    return app


def _attend(case: CaseHarness, month: str, present: int, on: dt.date, required: int = 22) -> Any:
    body = {"post_id": POST, "month": month, "days_present": present, "days_required": required}
    return case.send("record_attendance", body, on=on)


def test_an_eligible_person_takes_the_post_on_a_second_persons_approval(
    case: CaseHarness,
) -> None:
    case.send("register", RURAL, on=D)
    checked = _candidate(case)
    assert (checked["eligible"], checked["amount"], checked["months"]) == (
        True, str(HALF_MINIMUM_WAGE), 36)  # fmt: skip
    app = str(checked["application_id"])
    with pytest.raises(CommandRejectedError, match="officer-li applied for it"):
        case.send("approve_subsidy", {"application_id": app}, on=D)
    approved = case.send("approve_subsidy", {"application_id": app}, on=D, actor="chief-zhang")
    # the approval is the assignment: no month is entitled before its attendance
    assert case.types(approved) == ["subsidy.approved", "welfare_post.assigned"]
    assigned = approved[1].payload_dict()
    assert (assigned["post_id"], assigned["first_month"], assigned["last_month"]) == (
        POST, "2026-03", "2029-02")  # fmt: skip
    held = applications(case.state)[app]
    assert held.assigned and held.entitled == {} and held.post_region == "370702"


def test_only_a_person_the_post_takes_in_its_own_county_is_found_eligible(
    case: CaseHarness,
) -> None:
    case.send("register", GRADUATE, on=D)  # a graduate: neither difficulty nor rural labour
    graduate = _candidate(case)
    assert graduate["eligible"] is False and graduate["failed"]
    other = CaseHarness(case.aggregate, case.aggregate.initial("p_" + "b2" * 16))
    other.send("register", RURAL, on=D)
    elsewhere = _candidate(other, region="371302")
    assert elsewhere["eligible"] is False
    assert elsewhere["failed"] == [
        f"post {POST} is in 371302 and the person lives in 370702: a post is taken in the "
        "person's own county"
    ]
    with pytest.raises(CommandRejectedError, match="was not found eligible"):
        other.send("approve_subsidy", {"application_id": elsewhere["application_id"]}, on=D,
                   actor="chief-zhang")  # fmt: skip


def test_attendance_entitles_the_months_pay_in_proportion_once(case: CaseHarness) -> None:
    case.send("register", RURAL, on=D)
    app = _assigned(case)
    with pytest.raises(CommandRejectedError, match="2026-04 has not begun"):
        _attend(case, "2026-04", 20, on=D)
    with pytest.raises(CommandRejectedError, match=r"did not hold post .* in 2026-02"):
        _attend(case, "2026-02", 20, on=D)
    with pytest.raises(CommandRejectedError, match="more than the 22 days required"):
        _attend(case, "2026-03", 23, on=D)
    first = _attend(case, "2026-03", 11, on=dt.date(2026, 3, 31))
    assert case.types(first) == ["welfare_post.attendance_recorded", "subsidy.entitled"]
    assert first[1].payload_dict()["amount"] == "550.00"  # 11 of 22 days
    assert _attend(case, "2026-03", 11, on=dt.date(2026, 3, 31)) == []  # the same sheet again
    # paid, then the sheet is corrected down: the excess is ordered back
    pay = {"application_id": app, "month": "2026-03", "amount": "550.00"}
    case.send("record_payment", pay, on=dt.date(2026, 4, 5), actor="finance-qin")
    corrected = _attend(case, "2026-03", 10, on=dt.date(2026, 4, 6))
    recorded = ["welfare_post.attendance_recorded", "subsidy.entitled"]
    assert case.types(corrected) == [*recorded, "subsidy.recovery_ordered"]
    assert corrected[1].payload_dict()["amount"] == "500.00"
    assert corrected[2].payload_dict()["amount"] == "50.00"
    held = applications(case.state)[app]
    assert held.attendance == {2026 * 12 + 2: (10, 22)} and held.excess() == 0


def test_leaving_ends_the_pay_and_orders_back_a_month_paid_after_it(case: CaseHarness) -> None:
    case.send("register", RURAL, on=D)
    app = _assigned(case)
    for month, on in (("2026-03", dt.date(2026, 3, 31)), ("2026-04", dt.date(2026, 4, 30)),
                      ("2026-05", dt.date(2026, 5, 31))):  # fmt: skip
        _attend(case, month, 22, on=on)
    pay = {"application_id": app, "month": "2026-05", "amount": "1100.00"}
    case.send("record_payment", pay, on=dt.date(2026, 6, 3), actor="finance-qin")
    with pytest.raises(CommandRejectedError, match="2026-07 has not begun"):
        early = {"post_id": POST, "reason": "提前", "last_month": "2026-07"}
        case.send("vacate_welfare_post", early, on=dt.date(2026, 6, 4))
    # the village reports the person left at the end of April
    left = case.send(
        "vacate_welfare_post",
        {"post_id": POST, "reason": "外出务工", "last_month": "2026-04"},
        on=dt.date(2026, 6, 4),
    )
    assert case.types(left) == [
        "welfare_post.vacated", "subsidy.entitled", "subsidy.recovery_ordered"]  # fmt: skip
    assert left[1].payload_dict()["month"] == "2026-05"
    assert left[1].payload_dict()["amount"] == "0.00"
    assert left[2].payload_dict()["amount"] == "1100.00"
    held = applications(case.state)[app]
    assert held.vacated and held.last_month == 2026 * 12 + 3
    with pytest.raises(CommandRejectedError, match="did not hold post"):
        _attend(case, "2026-05", 22, on=dt.date(2026, 6, 5))
    with pytest.raises(CommandRejectedError, match="does not hold post"):
        case.send("vacate_welfare_post", {"post_id": POST, "reason": "再次"},
                  on=dt.date(2026, 6, 5))  # fmt: skip


def test_the_tenure_counts_the_months_held_on_every_post(case: CaseHarness) -> None:
    case.send("register", RURAL, on=dt.date(2025, 1, 2))
    _assigned(case, on=dt.date(2025, 1, 2))
    case.send("vacate_welfare_post", {"post_id": POST, "reason": "合同到期",
              "last_month": "2025-12"}, on=dt.date(2025, 12, 31))  # fmt: skip
    again = _candidate(case, on=D)
    assert again["eligible"] and again["months"] == 24  # 36 less the 12 held


def test_a_full_post_turns_the_person_back_and_a_leaving_frees_the_slot() -> None:
    posts = WelfarePostAggregate()
    state = posts.initial(POST)
    state, [opened] = _decide(posts, state, "open", {"region": "370702", "title": "保洁",
                                                     "slots": 1})  # fmt: skip
    assert opened.event_type == "welfare_post.opened" and posts.region_of(state) == "370702"
    first, second = "p_" + "a1" * 16, "p_" + "b2" * 16
    state, [seated] = _decide(posts, state, "seat", {"person_id": first})
    assert seated.event_type == "welfare_post.seated" and state.seated.keys() == {first}
    state, again = _decide(posts, state, "seat", {"person_id": first})
    assert again == []  # read twice: the person holds the slot already
    state, [full] = _decide(posts, state, "seat", {"person_id": second})
    assert full.event_type == "welfare_post.overbooked" and second not in state.seated
    state, [released] = _decide(posts, state, "unseat", {"person_id": first})
    assert released.event_type == "welfare_post.released" and state.seated == {}
    state, [seated] = _decide(posts, state, "seat", {"person_id": second})
    assert seated.payload_dict()["seated"] == 1
    with pytest.raises(CommandRejectedError, match="open already"):
        _decide(posts, state, "open", {"region": "370702", "title": "保洁"})
    with pytest.raises(CommandRejectedError, match="no welfare post"):
        _decide(posts, posts.initial("wp-x"), "seat", {"person_id": first})


def test_the_reactor_seats_frees_and_ends_holdings(case: CaseHarness) -> None:
    case.send("register", RURAL, on=D)
    app = _assigned(case)
    money = MoneyReactions()
    for event in case.events:
        reactions = money.react(event)
        if event.event_type == "welfare_post.assigned":
            [seat] = reactions
            assert (seat.command_type, seat.aggregate_id, seat.payload) == (
                "welfare_post.seat", POST, {"person_id": case.state.person_id,
                                            "application_id": app})  # fmt: skip
    assert money.periodic == {}  # a post's months come from its attendance, not the calendar
    assert money.due(dt.date(2029, 2, 20)) == []
    [ended] = money.due(dt.date(2029, 3, 1))  # the tenure's last month (2029-02) has passed
    assert (ended.command_type, ended.payload["cause"]) == ("person.vacate_welfare_post", "tenure")
    assert ended.command_id == money.due(dt.date(2029, 3, 2))[0].command_id  # sent once
    full = _event("welfare_post.overbooked", POST,
                  {"post_id": POST, "person_id": case.state.person_id, "application_id": app,
                   "slots": 1})  # fmt: skip
    [back] = money.react(full)
    assert (back.command_type, back.aggregate_id, back.payload["cause"]) == (
        "person.vacate_welfare_post", case.state.person_id, "full")  # fmt: skip
    left = case.send("vacate_welfare_post", back.payload, on=D, actor="eams.casework")
    assert left[0].payload_dict()["last_month"] == "2026-02"  # never held
    [unseat] = money.react(left[0])
    assert (unseat.command_type, unseat.aggregate_id) == ("welfare_post.unseat", POST)
    assert money.due(dt.date(2029, 3, 1)) == []


def _decide(
    posts: WelfarePostAggregate, state: WelfarePost, verb: str, payload: dict[str, Any]
) -> tuple[WelfarePost, list[Envelope]]:
    now = dt.datetime(2026, 3, 2, 12, tzinfo=SHANGHAI)
    command = Command(command_id=uuid.uuid4(), command_type=f"welfare_post.{verb}",
                      aggregate_id=state.post_id, actor="officer-li", source="test",
                      issued_at=now, payload=payload)  # fmt: skip
    out = []
    for i, change in enumerate(posts.decide(state, command, now)):
        event = internal_event(change.event_type, region=change.region or state.region or "",
                               aggregate_id=state.post_id, actor="officer-li", source="test",
                               payload=dict(change.payload),
                               event_id=event_id_for(command.command_id, i),
                               occurred_at=now, recorded_at=now)  # fmt: skip
        state = posts.apply(state, event)
        out.append(event)
    return state, out


def _event(event_type: str, aggregate: str, payload: dict[str, Any]) -> Envelope:
    now = dt.datetime(2026, 3, 2, 12, tzinfo=SHANGHAI)
    return internal_event(event_type, region="370702", aggregate_id=aggregate, actor="eams",
                          source="test", payload=payload, event_id=uuid.uuid4(),
                          occurred_at=now, recorded_at=now)  # fmt: skip


def test_the_pay_begins_no_earlier_than_the_post_or_its_approval(case: CaseHarness) -> None:
    """A check dated back (the form's day, weeks before) does not pay months before the
    post opened, and the holding begins at the approval: no attendance before either."""
    case.send("register", RURAL, on=dt.date(2026, 1, 2))
    body = {"policy": "welfare_post_pay", "post_region": "370702",
            "post_opened_on": "2026-03-01",
            "facts": {"employment_kind": "welfare_post", "post_id": POST}}  # fmt: skip
    [applied] = case.send("apply_subsidy", body, on=dt.date(2026, 1, 5))
    app = str(applied.payload_dict()["application_id"])
    [checked] = case.send("check_subsidy", {"application_id": app}, on=dt.date(2026, 1, 5))
    assert checked.payload_dict()["first_month"] == "2026-03"  # the post's month, not January
    approved = case.send("approve_subsidy", {"application_id": app}, on=dt.date(2026, 4, 2),
                         actor="chief-zhang")  # fmt: skip
    assigned = approved[1].payload_dict()
    assert (assigned["first_month"], assigned["starts_on"]) == ("2026-04", "2026-04-02")
    for month in ("2026-01", "2026-03"):
        with pytest.raises(CommandRejectedError, match=f"did not hold post .* in {month}"):
            _attend(case, month, 22, on=dt.date(2026, 4, 30))
    assert case.types(_attend(case, "2026-04", 22, on=dt.date(2026, 4, 30)))[0] == (
        "welfare_post.attendance_recorded"
    )


def test_a_stopped_pay_gives_up_the_seat(case: CaseHarness) -> None:
    """A fraud case's recovery stops the post's pay: the reactor has the holder leave (cause
    ``ineligible``), so the slot is freed and the person holds no post any more."""
    case.send("register", RURAL, on=D)
    app = _assigned(case)
    _attend(case, "2026-03", 22, on=dt.date(2026, 3, 31))
    pay = {"application_id": app, "month": "2026-03", "amount": "1100.00"}
    case.send("record_payment", pay, on=dt.date(2026, 4, 3), actor="finance-qin")
    order = {"application_id": app, "amount": "1100.00", "reason": "骗补确认 fc-1",
             "fraud_case_id": "fc-1"}  # fmt: skip
    ordered = case.send("order_recovery", order, on=dt.date(2026, 4, 8), actor="eams.casework")
    assert case.types(ordered) == ["subsidy.recovery_ordered", "subsidy.stopped"]
    money = MoneyReactions()
    reactions = [r for event in case.events for r in money.react(event)]
    [leave] = [r for r in reactions if r.command_type == "person.vacate_welfare_post"]
    assert (leave.payload["cause"], leave.payload["post_id"], leave.payload["on"]) == (
        "ineligible", POST, "2026-04-08")  # fmt: skip
    again = MoneyReactions()
    [twice] = [r for event in case.events for r in again.react(event)
               if r.command_type == "person.vacate_welfare_post"]  # fmt: skip
    assert twice.command_id == leave.command_id  # read again: the same command
    left = case.send("vacate_welfare_post", leave.payload, on=dt.date(2026, 4, 8),
                     actor="eams.casework")  # fmt: skip
    assert left[0].payload_dict()["last_month"] == "2026-04"  # the stop's: from May
    [unseat] = money.react(left[0])
    assert (unseat.command_type, unseat.aggregate_id) == ("welfare_post.unseat", POST)
    assert money.posts == {}  # no tenure end is sent for it later
    held = applications(case.state)[app]
    assert held.vacated and held.last_month == 2026 * 12 + 3


def test_a_move_since_does_not_undo_a_holding_judged_again(case: CaseHarness) -> None:
    """A correction judges the post's pay again as of its approval: in the county the
    person lived in then, not the one they moved to since."""
    case.send("register", RURAL, on=D)
    app = _assigned(case)
    case.send("exit", {"reason": "moved_away", "exited_on": "2026-05-01"}, on=dt.date(2026, 5, 1))
    case.send("register", RURAL | {"region": "370703"}, on=dt.date(2026, 5, 2))  # moved
    assert case.state.region == "370703"
    corrected = case.send(
        "correct_facts",
        {"facts": {"able_to_work": True}, "since": "2026-01-01", "document": "复核 2026-07"},
        on=dt.date(2026, 5, 10),
    )
    assert "subsidy.stopped" not in case.types(corrected)
    assert applications(case.state)[app].status != "stopped"
    # a new candidate is judged where the person lives now
    again = _candidate(case, on=dt.date(2026, 5, 10))
    assert any("lives in 370703" in f for f in again["failed"])


def test_an_attendance_raised_again_cuts_the_order_it_made(case: CaseHarness) -> None:
    """A sheet corrected down orders the excess back; corrected up again (the first figure
    was right), the order is cut by what it no longer owes, as far as it is unsettled."""
    case.send("register", RURAL, on=D)
    app = _assigned(case)
    _attend(case, "2026-03", 22, on=dt.date(2026, 3, 31))
    pay = {"application_id": app, "month": "2026-03", "amount": "1100.00"}
    case.send("record_payment", pay, on=dt.date(2026, 4, 3), actor="finance-qin")
    down = _attend(case, "2026-03", 11, on=dt.date(2026, 4, 6))
    ordered = down[2].payload_dict()
    assert (ordered["amount"], case.types(down)[2]) == ("550.00", "subsidy.recovery_ordered")
    settle = {"application_id": app, "order_id": ordered["order_id"], "amount": "100.00"}
    case.send("settle_recovery", settle, on=dt.date(2026, 4, 7), actor="finance-qin")
    up = _attend(case, "2026-03", 22, on=dt.date(2026, 4, 8))
    assert case.types(up) == ["welfare_post.attendance_recorded", "subsidy.entitled",
                              "subsidy.recovery_cancelled"]  # fmt: skip
    cut = up[2].payload_dict()
    assert (cut["order_id"], cut["amount"]) == (ordered["order_id"], "450.00")
    held = applications(case.state)[app]
    assert held.outstanding(ordered["order_id"]) == 0  # what came back stays recovered
    assert held.orders[ordered["order_id"]] == Decimal("100.00")


def test_a_post_id_is_never_a_persons_number() -> None:
    posts = WelfarePostAggregate()
    with pytest.raises(CommandRejectedError, match="looks like a citizen ID"):
        _decide(posts, posts.initial("wp-370702199001011234"), "open",
                {"region": "370702", "title": "保洁"})  # fmt: skip
    with pytest.raises(CommandRejectedError, match="looks like a citizen ID"):
        _decide(posts, posts.initial("13812345678"), "open",
                {"region": "370702", "title": "保洁"})  # fmt: skip
