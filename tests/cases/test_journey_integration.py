"""A person's whole journey as a timeline on the real broker and engine (the issue's "done
when"): discovered from a civil-affairs record imported with the shipped mapping, assigned to
the community's officer and contacted, registered (the lead converted), recognised under
Weifang's rules, plan agreed, visited on schedule, placed, and exited after six months of
stable work, the days given as the officer records them. ``explain --as-of`` reproduces each
decision on its day; the timeline holds everything in order; every read is audited.

Days are relative to today (D-260 … D0).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from civil_affairs import build_roster_xlsx, nid
from fixtures import SECRET, Worker, read_log
from helpers import wait_for

from eams.auth import UserStore
from eams.settings import PROJECT_ROOT
from events.clock import today
from events.privacy import pseudonym

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
KUIWEN = "370705"  # 潍坊市奎文区
DAY = today()
GRADUATE = nid("37070520020918301")  # 李明, born 2002, a 低保 household's graduate
P = pseudonym(GRADUATE, SECRET.encode())


def d(days: int) -> str:
    return (DAY + dt.timedelta(days=days)).isoformat()


@pytest.fixture
def officer(worker_factory: Any) -> Iterator[tuple[Worker, httpx.Client]]:
    worker = worker_factory(EAMS_CASEWORK="true", EAMS_CASEWORK_INTERVAL="0.5")
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("wang", "case_officer", PASSWORD, [KUIWEN])
    users.add_user("audit", "auditor", PASSWORD, [])
    client = httpx.Client(base_url=str(worker.api.base_url), timeout=60)
    assert client.post("/api/session", json={"name": "wang", "password": PASSWORD}).is_success
    yield worker, client
    client.close()


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(path, json=body)
    assert answer.status_code in (200, 201), f"{path}: {answer.status_code} {answer.text}"
    return dict(answer.json())


def _explain(client: httpx.Client, days: int) -> dict[str, Any]:
    got = client.get(f"/api/persons/{P}/explain", params={"as_of": d(days), "purpose": "复核认定"})
    assert got.status_code == 200, got.text
    return dict(got.json())


def test_from_a_civil_affairs_record_to_stable_work(
    officer: tuple[Worker, httpx.Client], tmp_path: Path
) -> None:
    worker, wang = officer
    # D-260: the 民政 roster names a graduate of a minimum-living-allowance household
    graduated = dt.date.fromisoformat(d(-520))  # 2 years' job-seeking runs past D-250
    roster = build_roster_xlsx(tmp_path / "花名册.xlsx", rows=[(
        1, "李明", "男", GRADUATE, "子女", "高校毕业生", graduated, "WF-DB-2021-0031",
        GRADUATE, "低保", dt.date.fromisoformat(d(-260)), "奎文区", "东关街道", "和平社区", "",
    )])  # fmt: skip
    mapping = PROJECT_ROOT / "deploy" / "mappings" / "civil_affairs_assistance.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "eams.cli", "import", str(roster), "--mapping", str(mapping)],
        env=dict(os.environ, **worker.env()), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("3 records: 1 accepted"), done.stdout
    worker.wait_settled()
    [lead] = read_log(worker, "lead.discovered")
    assert lead["aggregate_id"] == P and lead["payload"]["facts"]["minimum_living_allowance"]
    lead_id = lead["payload"]["lead_id"]
    # the roster knows no other member of the household in work: casework finds it
    # zero-employment (a deadline runs) and the person's case records the fact
    wait_for(
        lambda: any(
            e["payload"]["source"] == "household" for e in read_log(worker, "person.facts_recorded")
        ),
        "the household's fact on the person",
    )
    [household] = read_log(worker, "household.zero_employment_identified")
    assert household["aggregate_id"] == "WF-DB-2021-0031"

    # D-255: given to the community's officer, who phones; D-250: registered, lead converted
    _post(wang, f"/api/persons/{P}/leads/{lead_id}/assign", {"office": KUIWEN, "officer": "wang"})
    _post(wang, f"/api/persons/{P}/leads/{lead_id}/contact", {"channel": "phone", "on": d(-255)})
    registered = _post(wang, "/api/persons", {
        "national_id": GRADUATE, "name": "李明", "region": KUIWEN,
        "target_group": "low_income_graduate", "facts": {"willing_to_work": True},
        "lead_id": lead_id, "on": d(-250),
    })  # fmt: skip
    assert "lead.converted" in registered["event_types"], registered
    assert "person.recognized" in registered["event_types"], registered
    [recognised] = read_log(worker, "person.recognized")
    assert recognised["payload"]["rule_set"] == "370700@1"
    assert recognised["payload"]["rule_id"] == "lig.minimum_living_allowance"
    assert recognised["payload"]["recognised_on"] == d(-250)
    [first_due] = read_log(worker, "visit.scheduled")
    # a zero-employment household's member is visited monthly (policy)
    assert (first_due["payload"]["due_on"], first_due["payload"]["basis"]) == (
        d(-220),
        "zero_employment_household",
    )

    # D-245: the plan; D-220: visited when due; D-190: placed (the recognition lapses, the
    # household is cleared)
    plan = {
        "goals": ["半年内稳定就业"],
        "measures": [
            {"measure": "job_referral", "kind": "service", "owner": "wang", "deadline": d(-200)},
            {"measure": "job_search_one_time", "kind": "policy", "owner": "wang"},
        ],
        "on": d(-245),
    }
    assert _post(wang, f"/api/persons/{P}/plan", plan)["event_types"] == ["plan.agreed"]
    visit = {"channel": "home_visit", "visited_on": d(-220), "needs": ["岗位推荐"]}
    assert _post(wang, f"/api/persons/{P}/visits", visit)["event_types"] == [
        "visit.recorded",
        "visit.scheduled",
    ]
    placed = _post(wang, f"/api/persons/{P}/placements", {
        "placement": "enterprise", "started_on": d(-190), "employer_name": "潍坊某机械厂",
    })  # fmt: skip
    assert "person.recognition_revoked" in placed["event_types"], placed
    cleared = wait_for(
        lambda: read_log(worker, "household.zero_employment_cleared"), "the household cleared"
    )
    # identified on the record's day (D-260), so its 30 days ran out at D-230: cleared late
    assert household["payload"]["deadline"] == d(-230)
    assert (cleared[0]["payload"]["cleared_on"], cleared[0]["payload"]["on_time"]) == (
        d(-190),
        False,
    )
    # D0: six months of stable work: the case closes (a month earlier it would not)
    early = wang.post(f"/api/persons/{P}/exit", json={"reason": "employed", "exited_on": d(-40)})
    assert early.status_code == 409 and "6 months" in early.text, early.text
    exited = _post(wang, f"/api/persons/{P}/exit", {"reason": "employed", "exited_on": d(0)})
    assert exited["event_types"] == ["plan.ended", "person.exited"]

    # the log holds the journey in order, for the person's pseudonym only
    journey = [e["event_type"] for e in read_log(worker) if e["aggregate_id"] == P]
    expected = [
        "lead.discovered", "person.facts_recorded", "lead.assigned", "lead.contacted",
        "person.registered", "case.assigned", "person.facts_recorded", "lead.converted",
        "person.recognized", "visit.scheduled", "plan.agreed", "visit.recorded",
        "visit.scheduled", "placement.recorded", "person.facts_recorded",
        "person.recognition_revoked", "plan.ended", "person.exited",
    ]  # fmt: skip
    # casework's own reactions (the household cleared, the schedule after it) interleave
    rest = iter(journey)
    assert all(t in rest for t in expected), journey
    assert journey[-1] == "person.exited"
    assert GRADUATE not in str(read_log(worker))

    # explain as of each decision's day reproduces it with the version it names; it reads
    # the projected log, so first everything appended is projected (with commands answered
    # in ~30 ms the journey can outrun the projector's batching)
    worker.wait_settled()
    on_recognition = _explain(wang, -250)
    assert on_recognition["reproduced"] and on_recognition["rules_then"] == "370700@1"
    assert on_recognition["recognised_then"] == {
        "low_income_graduate": "370700@1 lig.minimum_living_allowance"
    }
    [decision] = [x for x in on_recognition["decisions"] if x["event_type"] == "person.recognized"]
    read = {c["condition"]: c["value"] for c in decision["conditions"]}
    assert read["minimum_living_allowance"] is True
    assert read["days_since_graduation <= $graduate_job_seeking_days"] == 270
    after_placement = _explain(wang, -190)
    assert after_placement["reproduced"]
    assert [x["event_type"] for x in after_placement["decisions"]][
        -1
    ] == "person.recognition_revoked"
    assert after_placement["recognised_then"] == {}
    before = _explain(wang, -258)  # only the lead was known: nothing decided yet
    assert before["decisions"] == [] and before["facts_then"]["minimum_living_allowance"] is True

    # the timeline shows it all; every read of the person is in the audit trail
    timeline = wang.get(f"/api/persons/{P}/timeline", params={"purpose": "结案复核"})
    assert timeline.status_code == 200, timeline.text
    body = timeline.json()
    rows = body if isinstance(body, list) else body.get("events", body.get("timeline", []))
    assert [r["event_type"] for r in rows][-1] == "person.exited"
    auditor = httpx.Client(base_url=str(worker.api.base_url), timeout=60)
    assert auditor.post("/api/session", json={"name": "audit", "password": PASSWORD}).is_success
    reads = wait_for(
        lambda: len(r := auditor.get("/api/audit/person-reads").json()) >= 4 and r, "4 reads"
    )
    auditor.close()
    rows = reads if isinstance(reads, list) else reads.get("reads", [])
    assert {r["purpose"] for r in rows} >= {"复核认定", "结案复核"}
