"""The case ledger's read routes on a real worker (real broker, real embedded ClickHouse).

A journey and its neighbours go in through ingest as a civil-affairs feed and an office's
ledger would send them (persons by national ID, pseudonymised at ingest): in Linyi's 兰山区
a lead discovered, assigned, contacted and converted into a registered, recognised case
with a plan, a schedule and a visit; a second case never contacted; a lead still to
contact; two zero-employment households, one past its deadline. In Jinan's 历下区 a case of
another officer and a household cleared on time. Officer li (Linyi) and officer zhao
(Jinan) read their worklists; li reads a person's detail with a purpose and the read is in
the log before the answer; the auditor lists it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import httpx
import pytest
from fixtures import SECRET, read_log
from helpers import encode, event, produce, signed_in, wait_for

from eams.auth import UserStore
from events.clock import SHANGHAI, today
from events.envelope import parse_event
from events.identity import make_national_id
from events.privacy import pseudonym, pseudonymise
from events.regions import load_reference
from streams.pipeline import is_source_type
from streams.producer import new_producer

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
LANSHAN, LINYI, LIXIA, JINAN = "371302", "371300", "370102", "370100"
NID_A = make_national_id(LANSHAN, dt.date(1975, 3, 8), 11)
NID_B = make_national_id(LANSHAN, dt.date(1968, 5, 1), 12)
NID_C = make_national_id(LIXIA, dt.date(1990, 9, 9), 13)
NID_D = make_national_id(LANSHAN, dt.date(1972, 1, 2), 14)
A, B, C, D = (pseudonym(n, SECRET.encode()) for n in (NID_A, NID_B, NID_C, NID_D))
DAY = today()


def _at(days: int, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(DAY + dt.timedelta(days=days), dt.time(hour), tzinfo=SHANGHAI)


def _d(days: int) -> str:
    return (DAY + dt.timedelta(days=days)).isoformat()


def _p(
    kind: str, region: str, nid: str, days: int, hour: int = 9, **payload: Any
) -> dict[str, Any]:
    return event(kind, region, {"national_id": nid} | payload, at=_at(days, hour))


def _h(kind: str, region: str, days: int, **payload: Any) -> dict[str, Any]:
    return event(kind, region, payload, at=_at(days))


def journey() -> list[dict[str, Any]]:
    """The events of the test, as sources and the case aggregate would have appended them."""
    return [
        _p("lead.discovered", LANSHAN, NID_A, -30, lead_id="CA-2026-001", source="civil_affairs",
           suggested_target_group="employment_difficulty", facts={"low_income": True},
           record_on=_d(-31)),
        _p("lead.assigned", LANSHAN, NID_A, -29, lead_id="CA-2026-001", office=LANSHAN,
           officer="li"),
        _p("lead.contacted", LANSHAN, NID_A, -28, lead_id="CA-2026-001", channel="home_visit"),
        _p("person.registered", LANSHAN, NID_A, -27, target_group="employment_difficulty",
           employment_status="unemployed", name="张三丰", phone="13812345678",
           registered_on=_d(-27), household_id="H-A"),
        _p("lead.converted", LANSHAN, NID_A, -27, 10, lead_id="CA-2026-001",
           target_group="employment_difficulty"),
        _p("case.assigned", LANSHAN, NID_A, -27, 11, office=LANSHAN, officer="li"),
        _p("person.recognized", LANSHAN, NID_A, -26, target_group="employment_difficulty",
           rule_set="371300@1", rule_id="ed.low_income_household", recognised_on=_d(-26)),
        _p("plan.agreed", LANSHAN, NID_A, -26, 10, plan_id="plan-A", review_due=_d(5),
           goals=["三个月内实现就业"]),
        _p("visit.scheduled", LANSHAN, NID_A, -26, 11, due_on=_d(-2), interval_days=24,
           basis="employment_difficulty"),
        _p("visit.recorded", LANSHAN, NID_A, -20, channel="phone", visited_on=_d(-20)),
        _p("person.registered", LANSHAN, NID_B, -100, target_group="rural_surplus_labour",
           employment_status="unemployed", name="李四"),
        _p("case.assigned", LANSHAN, NID_B, -100, 10, office=LANSHAN, officer="li"),
        _p("visit.scheduled", LANSHAN, NID_B, -10, due_on=_d(0), interval_days=90,
           basis="default"),
        _p("person.registered", LIXIA, NID_C, -40, target_group="temporary_assistance",
           employment_status="lost_work_due_to_disaster", name="王五"),
        _p("case.assigned", LIXIA, NID_C, -40, 10, office=LIXIA, officer="zhao"),
        _p("visit.scheduled", LIXIA, NID_C, -15, due_on=_d(-1), interval_days=14,
           basis="temporary_assistance"),
        _p("lead.discovered", LANSHAN, NID_D, -5, lead_id="CA-2026-002", source="civil_affairs"),
        _p("lead.assigned", LANSHAN, NID_D, -4, lead_id="CA-2026-002", office=LANSHAN,
           officer="li"),
        _h("household.zero_employment_identified", LANSHAN, -40, household_id="H-A",
           members_of_working_age=2, identified_on=_d(-40), deadline=_d(3)),
        _h("household.member_joined", LANSHAN, -40, household_id="H-A", person_id=A,
           working_age=True),
        _h("household.zero_employment_identified", LANSHAN, -60, household_id="H-B",
           members_of_working_age=3, identified_on=_d(-60), deadline=_d(-10)),
        _h("household.clearing_overdue", LANSHAN, -9, household_id="H-B", deadline=_d(-10),
           escalated_to=LANSHAN),
        _h("household.zero_employment_identified", LIXIA, -30, household_id="H-C",
           members_of_working_age=1, identified_on=_d(-30), deadline=_d(-5)),
        _h("household.zero_employment_cleared", LIXIA, -6, household_id="H-C",
           cleared_on=_d(-6), on_time=True),
    ]  # fmt: skip


def send_as_sources_and_eams(worker: Any, raws: list[dict[str, Any]]) -> None:
    """Each event as its writer would append it, in order: what a source may send through
    ingest; what only EAMS decides (ownership, the schedule, a household's members and
    escalation) straight into the log, pseudonymised as ingest would have (the case
    aggregate writes them so)."""
    reference = load_reference("shandong")

    async def append(batch: list[dict[str, Any]]) -> None:
        producer = new_producer(worker.kafka("stream"))
        await producer.start()
        try:
            for raw in batch:
                envelope = pseudonymise(parse_event(raw, reference=reference), SECRET.encode())
                key = (envelope.aggregate_id or "").encode()
                await producer.send_and_wait(
                    worker.settings.topics.events, envelope.to_json(), key=key
                )
        finally:
            await producer.stop()

    for source, run in itertools.groupby(raws, key=lambda r: is_source_type(r["event_type"])):
        batch = list(run)
        if source:
            produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode(batch))
            worker.wait_settled()  # in the log before what follows it
        else:
            asyncio.run(append(batch))


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text}"
    return answer.json()


def test_officers_read_their_worklists_and_every_detail_read_is_audited(
    worker_factory: Any, clients: list[httpx.Client]
) -> None:
    worker = worker_factory()
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("li", "case_officer", PASSWORD, [LINYI])
    users.add_user("zhao", "case_officer", PASSWORD, [JINAN])
    users.add_user("audit-a", "auditor", PASSWORD, [])
    users.add_user("analyst-a", "analyst", PASSWORD, [])
    send_as_sources_and_eams(worker, journey())
    counts = worker.wait_settled()
    # every input is in the log; casework's reactor (cases.reactions) may append more of its
    # own (judging the imported cases again, telling a household's members)
    assert counts["events"] >= len(journey()), worker.tail()
    li, zhao = (
        signed_in(clients, worker, "li", PASSWORD),
        signed_in(clients, worker, "zhao", PASSWORD),
    )
    auditor = signed_in(clients, worker, "audit-a", PASSWORD)

    # li's caseload: A and B (the caller's by default), masked, never in clear
    answer = li.get("/api/cases")
    assert answer.status_code == 200, answer.text
    for clear in ("张三丰", "李四", "13812345678", NID_A, NID_B):
        assert clear not in answer.text
    cases = {c["person_id"]: c for c in answer.json()}
    assert set(cases) == {A, B}
    a = cases[A]
    assert (a["office"], a["officer"], a["status"], a["groups"]) == (
        LANSHAN, "li", "recognised", ["employment_difficulty"])  # fmt: skip
    assert a["name_masked"] == "张**" and a["phone_masked"].endswith("5678")
    assert (a["region_name"], a["city_name"]) == ("兰山区", "临沂市")
    assert a["plan"] == {"plan_id": "plan-A", "version": 1, "review_due": _d(5)}
    assert a["last_contact"] == _d(-20) and a["household_id"] == "H-A"
    assert cases[B]["status"] == "registered" and cases[B]["groups"] == []
    assert {c["person_id"] for c in _get(li, "/api/cases", region=LANSHAN)} == {A, B}
    page = _get(li, "/api/cases", region=LANSHAN, limit=1, offset=1)
    assert [c["person_id"] for c in page] == sorted([A, B])[1:]  # by person, the second

    due = _get(li, "/api/cases/visits-due")
    assert [(v["person_id"], v["overdue"], v["days_overdue"]) for v in due] == [
        (A, True, 2), (B, False, 0)]  # fmt: skip
    assert [r["person_id"] for r in _get(li, "/api/cases/plan-reviews")] == [A]
    assert _get(li, "/api/cases/plan-reviews", within_days=4) == []
    silent = _get(li, "/api/cases/silent", days=30)
    assert [(s["person_id"], s["days_silent"]) for s in silent] == [(B, 100)]
    [lead] = _get(li, "/api/leads")
    assert (lead["person_id"], lead["lead_id"], lead["stage"]) == (D, "CA-2026-002", "assigned")
    [county] = _get(li, "/api/leads/funnel")
    assert {k: county[k] for k in ("region", "discovered", "assigned", "contacted",
            "converted", "declined", "open")} == {"region": LANSHAN, "discovered": 2,
            "assigned": 2, "contacted": 1, "converted": 1, "declined": 0, "open": 1}  # fmt: skip
    households = _get(li, "/api/households/zero-employment")
    [lanshan] = households["counties"]
    assert {k: lanshan[k] for k in ("region", "identified", "open", "overdue", "escalated")} == {
        "region": LANSHAN, "identified": 2, "open": 2, "overdue": 1, "escalated": 1}  # fmt: skip
    assert [(h["household_id"], h["days_left"]) for h in households["near_deadline"]] == [
        ("H-B", -10), ("H-A", 3)]  # fmt: skip
    [city] = _get(li, "/api/cases/clearing")
    assert (city["city"], city["identified"], city["cleared"]) == (LINYI, 2, 0)
    [summary] = _get(li, "/api/cases/summary")  # A (recognised, visit late, plan) and B
    keys = ("city", "city_name", "open", "recognised", "visits_overdue", "plans_active", "exited")
    assert tuple(summary[k] for k in keys) == (LINYI, "临沂市", 2, 1, 1, 1, 0)

    # scope: zhao sees the Jinan case only, and nothing of Linyi's
    assert [c["person_id"] for c in _get(zhao, "/api/cases")] == [C]
    assert _get(zhao, "/api/cases", officer="li") == []
    assert [v["person_id"] for v in _get(zhao, "/api/cases/visits-due")] == [C]
    assert _get(zhao, "/api/leads", officer="li") == [] and _get(zhao, "/api/leads/funnel") == []
    assert [(r["city"], r["open"]) for r in _get(zhao, "/api/cases/summary")] == [(JINAN, 1)]
    [jinan] = _get(zhao, "/api/cases/clearing")
    assert (jinan["city"], jinan["cleared"], jinan["cleared_on_time"]) == (JINAN, 1, 1)
    refused = li.get("/api/cases", params={"region": LIXIA})
    assert refused.status_code == 403 and LIXIA in refused.json()["detail"]
    assert li.get(f"/api/persons/{C}", params={"purpose": "走访准备"}).status_code == 404
    assert zhao.get(f"/api/persons/{A}/timeline", params={"purpose": "核对"}).status_code == 404
    analyst = signed_in(clients, worker, "analyst-a", PASSWORD)
    assert analyst.get("/api/cases").status_code == 403  # aggregates only

    # a detail read names its purpose, and is in the log before the answer
    missing = li.get(f"/api/persons/{A}")
    assert missing.status_code == 422 and "purpose" in missing.text
    answer = li.get(f"/api/persons/{A}", params={"purpose": "走访准备 visit preparation"})
    assert answer.status_code == 200, answer.text
    assert "张三丰" not in answer.text and NID_A not in answer.text
    case = answer.json()
    assert [(o["office"], o["officer"], o["until"]) for o in case["ownership"]] == [
        (LANSHAN, "li", None)]  # fmt: skip
    assert [(x["lead_id"], x["stage"]) for x in case["leads"]] == [("CA-2026-001", "converted")]
    assert case["recognitions"][0]["rule_set"] == "371300@1"
    reads = read_log(worker, "audit.person_read")
    assert [(r["actor"], r["region"], r["payload"]) for r in reads] == [
        ("li", LANSHAN, {"subject": A, "purpose": "走访准备 visit preparation", "view": "case"})
    ]
    timeline = _get(li, f"/api/persons/{A}/timeline", purpose="核对台账")
    logged = [e["event_id"] for e in read_log(worker) if e["aggregate_id"] == A]
    assert [e["event_id"] for e in timeline] == logged  # the log's order, all of it
    assert {e["event_type"] for e in timeline} >= {"lead.discovered", "person.registered",
                                                   "plan.agreed", "visit.recorded"}  # fmt: skip
    registered = next(e for e in timeline if e["event_type"] == "person.registered")
    assert registered["label"] == {"zh": "人员登记", "en": "Person registered"}
    assert "name" not in registered["payload"] and "national_id" not in registered["payload"]
    assert len(read_log(worker, "audit.person_read")) == 2  # 404s recorded nothing

    # the auditor lists who read whom, when and why; an officer may not
    def listed() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = _get(auditor, "/api/audit/person-reads")
        return rows if len(rows) == 2 else []

    rows = wait_for(listed, "both reads in the auditor's list")
    assert [(r["actor"], r["person_id"], r["view"]) for r in rows] == [
        ("li", A, "timeline"), ("li", A, "case")]  # fmt: skip
    assert rows[1]["purpose"] == "走访准备 visit preparation"
    assert _get(auditor, "/api/audit/person-reads", actor="zhao") == []
    assert len(_get(auditor, "/api/audit/person-reads", person_id=A)) == 2
    assert li.get("/api/audit/person-reads").status_code == 403
