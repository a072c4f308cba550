"""The case ledger's read models and queries (migration 0009, ``projections.case_queries``)
against the real embedded ClickHouse (chDB): a known history of persons, leads and
zero-employment households in Linyi's 兰山区 and Jinan's 历下区, inserted into ``events`` in
two blocks and in an order that is not the order of occurrence, and every worklist's answer
for a fixed day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from events.clock import SHANGHAI
from events.envelope import Envelope, internal_event
from events.regions import load_reference
from projections import case_queries as q
from projections import worklist
from projections.case_queries import Selection
from projections.client import Store
from projections.migrations import migrate
from projections.rows import COLUMNS, to_row

DAY = dt.date(2026, 7, 20)
LANSHAN, LINYI, LIXIA, JINAN = "371302", "371300", "370102", "370100"
P1, P2, P3, P4, P5, P6, P7 = (f"p_{n:032x}" for n in range(1, 8))


def _at(days: int, hour: int = 9) -> dt.datetime:
    """``days`` after DAY (negative: before), at ``hour``."""
    return dt.datetime.combine(DAY + dt.timedelta(days=days), dt.time(hour), tzinfo=SHANGHAI)


def _d(days: int) -> str:
    return (DAY + dt.timedelta(days=days)).isoformat()


def _e(kind: str, region: str, key: str, days: int, hour: int = 9, **payload: Any) -> Envelope:
    person = {"person_id": key} if key.startswith("p_") else {}
    return internal_event(
        kind,
        region=region,
        aggregate_id=key,
        actor=payload.pop("actor", "officer-li"),
        source="eams.cases",
        payload=person | payload,
        occurred_at=_at(days, hour),
    )


def _registered(key: str, region: str, days: int, name: str) -> Envelope:
    return _e("person.registered", region, key, days, 8, target_group="employment_difficulty",
              employment_status="unemployed", national_id_masked="371302********1234",
              name_masked=name, registered_on=_d(days))  # fmt: skip


def history() -> list[Envelope]:
    """P1 li's recognised case, overdue visit and plan review due; P2 handed from li to
    wang, recognition revoked, plan ended, never contacted; P3 a Jinan case; P4 exited;
    P5-P7 leads (open, converted, declined); households H1-H4."""
    return [
        _registered(P1, LANSHAN, -100, "张*"),
        _e("case.assigned", LANSHAN, P1, -100, office=LANSHAN, officer="li"),
        _e("person.recognized", LANSHAN, P1, -99, target_group="employment_difficulty",
           rule_set="371300@1", rule_id="ed.long_term_unemployed", recognised_on=_d(-99)),
        _e("visit.recorded", LANSHAN, P1, -40, channel="home_visit", visited_on=_d(-40)),
        _e("plan.agreed", LANSHAN, P1, -40, plan_id="plan-1", review_due=_d(3)),
        _e("visit.scheduled", LANSHAN, P1, -40, 10, due_on=_d(-5), interval_days=35,
           basis="employment_difficulty"),
        _e("service.refused", LANSHAN, P1, -20, service="job_referral", refused_on=_d(-20)),
        _e("service.refused", LANSHAN, P1, -19, service="job_referral", refused_on=_d(-19),
           justified=True, reason="照顾病人"),
        _e("visit.recorded", LANSHAN, P1, -3, channel="phone", visited_on=_d(-3),
           outcome="not_reached"),
        _registered(P2, LANSHAN, -90, "李*"),
        _e("case.assigned", LANSHAN, P2, -90, office=LANSHAN, officer="li"),
        _e("person.recognized", LANSHAN, P2, -89, target_group="rural_surplus_labour"),
        _e("person.recognition_revoked", LANSHAN, P2, -60, target_group="rural_surplus_labour",
           reason="已转移就业"),
        _e("visit.scheduled", LANSHAN, P2, -30, due_on=_d(0), interval_days=30, basis="default"),
        _e("case.handed_over", LANSHAN, P2, -30, from_office=LANSHAN, from_officer="li",
           office=LANSHAN, officer="wang", reason="片区调整"),
        _registered(P3, LIXIA, -50, "王*"),
        _e("case.assigned", LIXIA, P3, -50, office=LIXIA, officer="zhao", actor="zhao"),
        _e("person.recognized", LIXIA, P3, -50, target_group="temporary_assistance"),
        _e("visit.scheduled", LIXIA, P3, -15, due_on=_d(-1), interval_days=14,
           basis="temporary_assistance"),
        _registered(P4, LANSHAN, -80, "赵*"),
        _e("case.assigned", LANSHAN, P4, -80, office=LANSHAN, officer="li"),
        _e("placement.recorded", LANSHAN, P4, -70, placement="enterprise", started_on=_d(-70)),
        _e("person.exited", LANSHAN, P4, -10, reason="employed", exited_on=_d(-10)),
        _e("lead.discovered", LANSHAN, P5, -12, lead_id="L1", source="civil_affairs",
           suggested_target_group="employment_difficulty", national_id_masked="3713**1"),
        _e("lead.assigned", LANSHAN, P5, -11, lead_id="L1", office=LANSHAN, officer="li"),
        _e("lead.discovered", LANSHAN, P6, -12, lead_id="L2", source="civil_affairs"),
        _e("lead.assigned", LANSHAN, P6, -11, lead_id="L2", office=LANSHAN, officer="li"),
        _e("lead.contacted", LANSHAN, P6, -8, lead_id="L2", channel="phone"),
        _e("lead.converted", LANSHAN, P6, -7, lead_id="L2", target_group="employment_difficulty"),
        _e("lead.discovered", LANSHAN, P7, -12, lead_id="L3", source="civil_affairs"),
        _e("lead.assigned", LANSHAN, P7, -11, lead_id="L3", office=LANSHAN, officer="li"),
        _e("lead.contacted", LANSHAN, P7, -9, lead_id="L3", channel="home_visit"),
        _e("lead.declined", LANSHAN, P7, -9, 10, lead_id="L3", reason="已自行就业"),
        _e("household.zero_employment_identified", LANSHAN, "H1", -40, household_id="H1",
           members_of_working_age=2, identified_on=_d(-40), deadline=_d(2)),
        _e("household.zero_employment_identified", LANSHAN, "H2", -60, household_id="H2",
           members_of_working_age=3, identified_on=_d(-60), deadline=_d(-10)),
        _e("household.clearing_overdue", LANSHAN, "H2", -9, household_id="H2",
           deadline=_d(-10), escalated_to=LANSHAN),
        _e("household.zero_employment_identified", LANSHAN, "H3", -50, household_id="H3",
           members_of_working_age=1, identified_on=_d(-50), deadline=_d(-20)),
        _e("household.zero_employment_cleared", LANSHAN, "H3", -25, household_id="H3",
           cleared_on=_d(-25), on_time=True),
        _e("household.zero_employment_identified", LIXIA, "H4", -30, household_id="H4",
           members_of_working_age=2, identified_on=_d(-30), deadline=_d(-5)),
        _e("household.zero_employment_cleared", LIXIA, "H4", -2, household_id="H4",
           cleared_on=_d(-2)),
        # late: an older schedule arrives last; the later one (due -5) still wins
        _e("visit.scheduled", LANSHAN, P1, -60, due_on=_d(30), interval_days=30, basis="default"),
        _e("audit.person_read", LANSHAN, "audit:person_read", -1, actor="li", subject=P1,
           purpose="走访准备 visit preparation", view="case"),
        _e("audit.person_read", LIXIA, "audit:person_read", 0, actor="zhao", subject=P3,
           purpose="核对 check", view="timeline"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A migrated chDB store holding the history, written in two blocks (two parts)."""
    path: Path = tmp_path_factory.mktemp("cases-chdb")
    reference = load_reference("shandong")
    rows = [
        to_row(orjson.loads(e.to_json()), 0, offset, reference)
        for offset, e in enumerate(history())
    ]
    s = Store(f"chdb://{path}")
    try:
        migrate(s)
        half = len(rows) // 2
        for block in (rows[:half], rows[half:]):
            s.insert_columns("events", list(zip(*block, strict=True)), COLUMNS)
        worklist.rebuild(s, 1)
        yield s
    finally:
        s.close()


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["person_id"] for r in rows]


def test_caseload_follows_the_handover_and_leaves_exited_cases_out(store: Store) -> None:
    li = q.caseload(store, Selection(officer="li"))
    assert _ids(li) == [P1]
    [p1] = li
    where = (p1["office"], p1["officer"], p1["region"], p1["city"])
    assert where == (LANSHAN, "li", LANSHAN, LINYI)
    assert p1["status"] == "recognised" and p1["groups"] == ["employment_difficulty"]
    assert p1["owner_since"] == _at(-100)
    assert p1["visit_due"] == DAY - dt.timedelta(days=5)  # not the late, older schedule
    assert p1["last_contact"] == DAY - dt.timedelta(days=40)  # the unreached call is none
    assert p1["last_visit"] == DAY - dt.timedelta(days=3)
    assert p1["plan"] == {"plan_id": "plan-1", "version": 1, "review_due": DAY + dt.timedelta(3)}
    assert p1["unjustified_refusals"] == 1
    assert (p1["name_masked"], p1["national_id_masked"]) == ("张*", "371302********1234")
    [p2] = q.caseload(store, Selection(officer="wang"))
    assert p2["person_id"] == P2 and p2["owner_since"] == _at(-30)
    assert p2["groups"] == [] and p2["status"] == "registered" and p2["plan"] is None
    assert _ids(q.caseload(store, Selection(office=LANSHAN))) == [P1, P2]
    assert _ids(q.caseload(store, Selection(regions=frozenset({LINYI})))) == [P1, P2]
    assert _ids(q.caseload(store, Selection(regions=frozenset({LIXIA})))) == [P3]
    everyone = q.caseload(store, Selection(officer="li"), include_exited=True)
    assert _ids(everyone) == [P1, P4]
    assert everyone[1]["status"] == "exited" and everyone[1]["exit_reason"] == "employed"
    assert everyone[1]["exited_on"] == DAY - dt.timedelta(days=10)
    # an officer's list within a region they are not in is empty
    assert q.caseload(store, Selection(officer="li", regions=frozenset({JINAN}))) == []


def test_visits_due_today_and_overdue_per_officer_and_community(store: Store) -> None:
    linyi = q.visits_due(store, Selection(regions=frozenset({LANSHAN})), DAY)
    assert [(r["person_id"], r["overdue"], r["days_overdue"]) for r in linyi] == [
        (P1, True, 5),
        (P2, False, 0),
    ]
    assert _ids(q.visits_due(store, Selection(officer="wang"), DAY)) == [P2]
    assert _ids(q.visits_due(store, Selection(officer="wang"), DAY - dt.timedelta(1))) == []
    [p3] = q.visits_due(store, Selection(officer="zhao"), DAY)
    assert (p3["person_id"], p3["days_overdue"]) == (P3, 1)
    assert p3["visit_basis"] == "temporary_assistance"


def test_plan_reviews_due_within_the_window(store: Store) -> None:
    linyi = Selection(regions=frozenset({LINYI}))
    [p1] = q.plan_reviews(store, linyi, DAY, within_days=7)
    assert p1["person_id"] == P1 and not p1["overdue"]
    assert q.plan_reviews(store, linyi, DAY, within_days=2) == []
    [late] = q.plan_reviews(store, linyi, DAY + dt.timedelta(days=5), within_days=0)
    assert late["overdue"] and late["days_overdue"] == 2


def test_silent_persons_count_from_the_last_contact_or_the_registration(store: Store) -> None:
    linyi = Selection(regions=frozenset({LINYI}))
    rows = q.silent_persons(store, linyi, DAY, 30)
    assert [(r["person_id"], r["days_silent"]) for r in rows] == [(P2, 90), (P1, 40)]
    assert _ids(q.silent_persons(store, linyi, DAY, 60)) == [P2]


def test_leads_to_contact_and_the_funnel(store: Store) -> None:
    [lead] = q.leads_to_contact(store, officer="li")
    assert (lead["lead_id"], lead["person_id"], lead["stage"], lead["source"]) == (
        "L1", P5, "assigned", "civil_affairs")  # fmt: skip
    assert q.leads_to_contact(store, officer="li", regions=frozenset({JINAN})) == []
    [county] = q.leads_funnel(store, frozenset({LINYI}))
    assert county == {"region": LANSHAN, "city": LINYI, "discovered": 3, "assigned": 3,
                      "contacted": 2, "converted": 1, "declined": 1, "open": 1}  # fmt: skip
    assert q.leads_funnel(store, frozenset({JINAN})) == []
    leads = q.person_leads(store, P7)
    assert [(x["lead_id"], x["stage"], x["decline_reason"]) for x in leads] == [
        ("L3", "declined", "已自行就业")
    ]


def test_zero_employment_households_per_county_and_near_their_deadline(store: Store) -> None:
    got = q.zero_employment(store, DAY, near_days=7)
    counties = {r["region"]: r for r in got["counties"]}
    want = {"identified": 3, "cleared": 1, "cleared_on_time": 1, "open": 2, "overdue": 1,
            "escalated": 1}  # fmt: skip
    assert {k: counties[LANSHAN][k] for k in want} == want
    # H4 was cleared three days after its deadline, which its event did not judge
    assert {k: counties[LIXIA][k] for k in want} == {"identified": 1, "cleared": 1,
            "cleared_on_time": 0, "open": 0, "overdue": 0, "escalated": 0}  # fmt: skip
    near = [(h["household_id"], h["days_left"], h["overdue"], h["escalated"])
            for h in got["near_deadline"]]  # fmt: skip
    assert near == [("H2", -10, True, True), ("H1", 2, False, False)]
    assert q.zero_employment(store, DAY, frozenset({JINAN}))["near_deadline"] == []
    progress = {r["city"]: r for r in q.clearing_progress(store, DAY)}
    assert progress[LINYI]["cleared_share"] == pytest.approx(1 / 3)
    assert (progress[JINAN]["identified"], progress[JINAN]["cleared_share"]) == (1, 1.0)


def test_the_summary_per_city_counts_every_case_once(store: Store) -> None:
    got = {r["city"]: r for r in q.case_summary(store, DAY)}
    keys = ("open", "recognised", "visits_overdue", "plans_active", "exited")
    # Linyi: P1 (recognised, visit 5 days late, plan) and P2 (revoked, due today) are open,
    # P4 exited; Jinan: P3, recognised, its visit a day late
    assert {c: tuple(r[k] for k in keys) for c, r in got.items()} == {
        LINYI: (2, 1, 1, 1, 1), JINAN: (1, 1, 1, 0, 0)}  # fmt: skip
    assert [r["city"] for r in q.case_summary(store, DAY, frozenset({LIXIA}))] == [JINAN]
    # the day moves the overdue count only
    assert q.case_summary(store, DAY - dt.timedelta(days=10))[0]["visits_overdue"] == 0


def test_a_persons_case_and_timeline(store: Store) -> None:
    case = q.person_case(store, P2)
    assert case is not None
    assert [(o["officer"], o["since"], o["until"]) for o in case["ownership"]] == [
        ("li", _at(-90), _at(-30)),
        ("wang", _at(-30), None),
    ]
    assert case["ownership"][1]["reason"] == "片区调整"
    p1 = q.person_case(store, P1)
    assert p1 is not None and p1["recognitions"] == [
        {"target_group": "employment_difficulty", "since": DAY - dt.timedelta(days=99),
         "rule_set": "371300@1", "rule_id": "ed.long_term_unemployed"}]  # fmt: skip
    lead = q.person_case(store, P5)
    assert lead is not None and lead["status"] == "lead" and lead["registered_on"] is None
    assert q.person_case(store, "p_" + "f" * 32) is None
    timeline = q.person_timeline(store, P1)
    kinds = [e["event_type"] for e in timeline]
    assert kinds[0] == "person.registered" and kinds[-1] == "visit.scheduled"  # log order
    assert len(kinds) == 10 and "audit.person_read" not in kinds  # a read is no contact
    assert timeline[0]["label"] == {"zh": "人员登记", "en": "Person registered"}
    assert "national_id" not in timeline[0]["payload"]


def test_person_reads_filter_by_actor_person_and_region(store: Store) -> None:
    rows = q.person_reads(store)
    assert [(r["actor"], r["person_id"], r["view"]) for r in rows] == [
        ("zhao", P3, "timeline"),
        ("li", P1, "case"),
    ]
    assert [r["actor"] for r in q.person_reads(store, actor="li")] == ["li"]
    assert [r["person_id"] for r in q.person_reads(store, person_id=P3)] == [P3]
    assert [r["actor"] for r in q.person_reads(store, regions=frozenset({LINYI}))] == ["li"]


def test_ownership_periods_keep_the_first_inquiry_office() -> None:
    t = [_at(i) for i in range(3)]
    events = [
        {"event_type": "case.assigned", "occurred_at": t[0], "payload": {"office": "A",
         "officer": "a"}},
        {"event_type": "case.assigned", "occurred_at": t[1], "payload": {"office": "B",
         "officer": "b"}},
        {"event_type": "case.handed_over", "occurred_at": t[2], "payload": {"office": "C",
         "officer": "c", "reason": "moved"}},
    ]  # fmt: skip
    periods = q.ownership_periods(events)
    assert [(p["office"], p["since"], p["until"]) for p in periods] == [
        ("A", t[0], t[2]),
        ("C", t[2], None),
    ]
