"""Case officers' commands and explain on a real worker (real broker, real embedded
ClickHouse): officer zhao of Jinan registers a person by the clear ID from the card; the
case is decided by the single writer (registered, owned by zhao's office, facts, recognised
by Jinan's rules, first visit scheduled), and nothing clear reaches the commands topic, the
outcomes or the log. A second officer of Jinan is told who owns the case; officer li of
Linyi neither sees the Jinan person nor registers anyone in Jinan. A visit (retried with its
Idempotency-Key), a plan and a placement follow; explain replays each decision, through HTTP
and the CLI, and every explain read is in the log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from typing import Any

import httpx
import orjson
import pytest
from fixtures import SECRET, read_events, read_log
from helpers import signed_in

from eams.auth import UserStore
from events.clock import today
from events.identity import make_national_id
from events.privacy import pseudonym

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
LIXIA, JINAN, LANSHAN, LINYI = "370102", "370100", "371302", "371300"
NID = make_national_id(LIXIA, dt.date(1981, 5, 6), 24)  # a woman (even 17th digit), 40+
NAME, PHONE = "王秀英", "13912345678"
P = pseudonym(NID, SECRET.encode())
OTHER = make_national_id(LIXIA, dt.date(1990, 2, 3), 35)
REGISTER = {
    "national_id": NID,
    "name": NAME,
    "phone": PHONE,
    "region": LIXIA,
    "target_group": "employment_difficulty",
    "facts": {"able_to_work": True, "willing_to_work": True},
}
PLAN = {
    "goals": ["三个月内实现就业"],
    "measures": [{"measure": "career_guidance", "kind": "service", "owner": "zhao"}],
}


def _post(client: httpx.Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    answer = client.post(path, json=body, headers=headers)
    assert answer.status_code in (200, 201), f"{path}: {answer.status_code} {answer.text}"
    return answer.json()


def _topic_text(worker: Any, topic: str) -> str:
    """Every record of ``topic`` as one text (to search for clear values)."""
    records = asyncio.run(read_events(worker.kafka("stream"), topic))
    return "\n".join(orjson.dumps(r).decode() for r in records)


def _cli(worker: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **worker.env())
    return subprocess.run(
        [sys.executable, "-m", "eams.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_officers_register_act_and_explain_through_the_single_writer(
    worker_factory: Any, clients: list[httpx.Client]
) -> None:
    worker = worker_factory()
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("zhao", "case_officer", PASSWORD, [JINAN])
    users.add_user("qian", "case_officer", PASSWORD, [JINAN])
    users.add_user("li", "case_officer", PASSWORD, [LINYI])
    zhao, qian = (
        signed_in(clients, worker, "zhao", PASSWORD),
        signed_in(clients, worker, "qian", PASSWORD),
    )
    li = signed_in(clients, worker, "li", PASSWORD)

    # a bad checksum is refused at the route, naming the field and the digit expected
    bad = zhao.post("/api/persons", json=REGISTER | {"national_id": NID[:17] + "0"})
    if NID[17] == "0":
        bad = zhao.post("/api/persons", json=REGISTER | {"national_id": NID[:17] + "1"})
    assert bad.status_code == 422
    assert "national_id" in bad.text and f"expected '{NID[17]}'" in bad.text
    assert zhao.post("/api/persons", json=REGISTER | {"actor": "someone"}).status_code == 422

    # zhao registers by the clear ID: only the pseudonym and masks are sent
    done = _post(zhao, "/api/persons", REGISTER)
    assert done["person_id"] == P and done["accepted"] and done["version"] == 5
    assert done["event_types"] == [
        "person.registered",
        "case.assigned",
        "person.facts_recorded",
        "person.recognized",
        "visit.scheduled",
    ]
    assert done["national_id_masked"] == NID[:6] + "********" + NID[-4:]
    assert (done["name_masked"], done["phone_masked"]) == ("王**", "139****5678")
    logged = [e for e in read_log(worker) if e["aggregate_id"] == P]
    assert [e["event_type"] for e in logged] == done["event_types"]
    assert {e["actor"] for e in logged} == {"zhao"}
    registered, assigned, facts, recognised = (e["payload"] for e in logged[:4])
    assert registered["gender"] == "female" and registered["birth_year"] == 1981
    assert registered["name_masked"] == "王**" and "national_id" not in registered
    assert (assigned["office"], assigned["officer"]) == (LIXIA, "zhao")
    assert facts["facts"]["birth_date"] == "1981-05-06" and facts["facts"]["gender"] == "female"
    assert (recognised["rule_set"], recognised["rule_id"]) == ("370100@1", "ed.older_woman")

    # first-inquiry responsibility: another officer is told who owns the case
    again = qian.post("/api/persons", json=REGISTER)
    assert again.status_code == 409 and f"office {LIXIA}" in again.json()["detail"]
    assert "officer zhao" in again.json()["detail"]
    # Linyi's officer: the Jinan person is unknown to him, and Jinan is not his to register in
    assert li.post("/api/persons", json=REGISTER | {"region": LANSHAN}).status_code == 404
    visit = {"channel": "phone", "visited_on": today().isoformat()}
    assert li.post(f"/api/persons/{P}/visits", json=visit).status_code == 404
    outside = li.post("/api/persons", json=REGISTER | {"national_id": OTHER})
    assert outside.status_code == 403 and LIXIA in outside.json()["detail"]
    other = pseudonym(OTHER, SECRET.encode())
    assert not [e for e in read_log(worker) if e["aggregate_id"] in (other,)]

    # a visit (retried with its key: decided once), a plan, a placement
    seen = _post(zhao, f"/api/persons/{P}/visits", visit | {"note": "电话 13912345678 联系"},
                 **{"Idempotency-Key": "visit-1"})  # fmt: skip
    assert seen["event_types"][0] == "visit.recorded" and not seen["duplicate"]
    retry = _post(zhao, f"/api/persons/{P}/visits", visit | {"note": "电话 13912345678 联系"},
                  **{"Idempotency-Key": "visit-1"})  # fmt: skip
    assert retry["duplicate"] and retry["version"] == seen["version"]
    plan = _post(zhao, f"/api/persons/{P}/plan", PLAN)
    assert plan["event_types"] == ["plan.agreed"]
    placed = _post(
        zhao,
        f"/api/persons/{P}/placements",
        {"placement": "enterprise", "started_on": today().isoformat()},
    )
    assert placed["event_types"][:3] == [
        "placement.recorded",
        "person.facts_recorded",
        "person.recognition_revoked",
    ]
    types = [e["event_type"] for e in read_log(worker) if e["aggregate_id"] == P]
    assert types.count("visit.recorded") == 1 and "plan.agreed" in types
    assert len(types) == placed["version"]

    # nothing clear anywhere: the log, the commands, the outcomes
    names = worker.settings.topics
    for topic in (names.events, names.commands, names.outcomes):
        text = _topic_text(worker, topic)
        assert P in text, topic
        for clear in (NID, NAME, PHONE, OTHER):
            assert clear not in text, f"{clear} in {topic}"

    # explain: every decision replayed with the facts and rules of its day, audited
    worker.wait_settled()
    path = f"/api/persons/{P}/explain"
    assert zhao.get(path).status_code == 422  # no purpose
    blank = zhao.get(path, params={"purpose": "   "})
    assert blank.status_code == 422 and "purpose" in blank.json()["detail"]
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    future = zhao.get(path, params={"purpose": "复核", "as_of": tomorrow})
    assert future.status_code == 422 and "as_of" in future.text
    assert li.get(path, params={"purpose": "复核"}).status_code == 404
    assert read_log(worker, "audit.person_read") == []  # refused reads recorded nothing
    answer = zhao.get(path, params={"purpose": "复核认定 review"})
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["reproduced"] and not doc["truncated"] and doc["events_read"] == len(types)
    assert [(d["event_type"], d["group"], d["rule_set"], d["reproduced"]) for d in doc[
        "decisions"]] == [("person.recognized", "employment_difficulty", "370100@1", True),
                          ("person.recognition_revoked", "employment_difficulty", "370100@1",
                           True)]  # fmt: skip
    first = doc["decisions"][0]
    assert first["replayed_rule"] == "ed.older_woman" and first["rule_title"]["zh"]
    values = {c["condition"]: (c["value"], c["ok"]) for c in first["conditions"]}
    assert values["age >= $older_woman_age"] == (today().year - 1981 - (
        (today().month, today().day) < (5, 6)), True)  # fmt: skip
    assert doc["facts_then"]["employed"] is True and doc["city"] == JINAN
    assert doc["city_name"]["zh"] == "济南市"
    assert NID not in answer.text and NAME not in answer.text
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    before = zhao.get(path, params={"purpose": "复核", "as_of": yesterday}).json()
    assert before["decisions"] == [] and before["facts_then"] == {}
    reads = read_log(worker, "audit.person_read")
    assert [(r["actor"], r["region"], r["payload"]) for r in reads] == [
        ("zhao", LIXIA, {"subject": P, "purpose": "复核认定 review", "view": "explain"}),
        ("zhao", LIXIA, {"subject": P, "purpose": "复核", "view": "explain"}),
    ]

    # the CLI prints the same replay, and its read is audited too
    shown = _cli(worker, "persons", "explain", P, "--purpose", "核对 CLI", "--lang", "en")
    assert shown.returncode == 0, shown.stderr
    assert "ed.older_woman" in shown.stdout and "reproduced: yes" in shown.stdout
    assert "✓ [ed.older_woman] age >= $older_woman_age  → " in shown.stdout
    assert "历下区, Jinan" in shown.stdout
    assert "Person recognised" in shown.stdout and "Recognition revoked" in shown.stdout
    zh = _cli(worker, "persons", "explain", P, "--purpose", "核对", "--as-of", today().isoformat())
    assert zh.returncode == 0 and "重放结果一致: 是" in zh.stdout and "就业困难人员" in zh.stdout
    as_json = _cli(worker, "persons", "explain", P, "--purpose", "核对", "--json")
    assert orjson.loads(as_json.stdout)["decisions"] == doc["decisions"]
    assert len(read_log(worker, "audit.person_read")) == 5


def test_a_lead_found_by_id_is_assigned_contacted_and_converted_by_registration(
    worker_factory: Any, clients: list[httpx.Client]
) -> None:
    worker = worker_factory()
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("li", "case_officer", PASSWORD, [LINYI])
    users.add_user("wang", "case_officer", PASSWORD, [LINYI])
    li, wang = (
        signed_in(clients, worker, "li", PASSWORD),
        signed_in(clients, worker, "wang", PASSWORD),
    )
    nid = make_national_id(LANSHAN, dt.date(1970, 8, 8), 57)  # a man of 50+
    person = pseudonym(nid, SECRET.encode())
    lead = {"national_id": nid, "name": "赵大勇", "region": LANSHAN, "source": "civil_affairs",
            "suggested_target_group": "employment_difficulty",
            "facts": {"low_income": True}}  # fmt: skip

    # discovery takes the clear ID too, and keeps it at the route
    refused = li.post("/api/leads", json=lead | {"region": LIXIA})
    assert refused.status_code == 403 and LIXIA in refused.json()["detail"]
    wrong = li.post(f"/api/persons/{P}/leads", json=lead)
    assert wrong.status_code == 422 and "national_id" in wrong.json()["detail"]
    found = _post(li, "/api/leads", lead)
    assert (found["person_id"], found["event_types"]) == (person, ["lead.discovered"])
    lead_id = found["lead_id"]
    again = li.post("/api/leads", json=lead)  # the same record again: the same lead
    assert again.status_code == 409 and lead_id in again.json()["detail"]
    base = f"/api/persons/{person}/leads/{lead_id}"
    assigned = _post(li, f"{base}/assign", {"office": LANSHAN, "officer": "wang"})
    assert assigned["event_types"] == ["lead.assigned"]
    contacted = _post(wang, f"{base}/contact", {"channel": "home_visit", "outcome": "愿意登记"})
    assert contacted["event_types"] == ["lead.contacted"]
    assert wang.post(f"{base}/decline", json={}).status_code == 422  # a reason is required

    # registering the person converts the open lead; the case is wang's (first inquiry)
    registered = _post(
        wang,
        "/api/persons",
        {"national_id": nid, "region": LANSHAN, "target_group": "employment_difficulty",
         "facts": {"able_to_work": True}},
    )  # fmt: skip
    assert registered["event_types"][:4] == [
        "person.registered",
        "case.assigned",
        "person.facts_recorded",
        "lead.converted",
    ]
    assert "person.recognized" in registered["event_types"]
    handed = _post(
        wang,
        f"/api/persons/{person}/handover",
        {"office": LANSHAN, "officer": "li", "reason": "辖区调整"},
    )
    assert handed["event_types"] == ["case.handed_over"]
    service = {"service": "career_guidance", "delivered_on": today().isoformat()}
    assert _post(li, f"/api/persons/{person}/services", service)["event_types"][0] == (
        "service.delivered"
    )
    refusal = {"service": "job_referral", "refused_on": today().isoformat()}
    outcomes = [_post(li, f"/api/persons/{person}/refusals", refusal) for _ in range(3)]
    assert outcomes[-1]["event_types"] == ["service.refused", "person.exited"]
    closed = li.post(f"/api/persons/{person}/visits", json={"channel": "phone",
                     "visited_on": today().isoformat()})  # fmt: skip
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]

    logged = [e for e in read_log(worker) if e["aggregate_id"] == person]
    assert [e["event_type"] for e in logged][:3] == [
        "lead.discovered",
        "lead.assigned",
        "lead.contacted",
    ]
    discovered = logged[0]["payload"]
    assert discovered["name_masked"] == "赵**" and discovered["facts"] == {"low_income": True}
    assert discovered["national_id_masked"] == nid[:6] + "********" + nid[-4:]
    names = worker.settings.topics
    for topic in (names.events, names.commands, names.outcomes):
        text = _topic_text(worker, topic)
        assert nid not in text and "赵大勇" not in text, topic
