"""Subsidy applications on a real worker (real broker, real embedded ClickHouse): officer
wang of Weifang registers a graduate of a low-income household, applies for the one-time
job-search subsidy and checks it; wang cannot approve (not an approver), nor can an
administrator who checked it (maker-checker, decided by the case), nor Linyi's approver
(the person is not in his regions); Weifang's approver chen approves, and the month's
entitlement follows. The log holds each decision with its actor, and the person's timeline
(the projection) shows them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fixtures import SECRET, read_log
from helpers import signed_in

from eams.auth import UserStore
from events.clock import today
from events.identity import make_national_id
from events.privacy import pseudonym

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
WEICHENG, WEIFANG, LINYI = "370702", "370700", "371300"
NID = make_national_id(WEICHENG, dt.date(2003, 4, 1), 26)
P = pseudonym(NID, SECRET.encode())
REGISTER = {
    "national_id": NID,
    "region": WEICHENG,
    "target_group": "low_income_graduate",
    "employment_status": "job_seeking_graduate",
    "facts": {"graduated_on": (today() - dt.timedelta(days=200)).isoformat(),
              "low_income": True, "able_to_work": True, "willing_to_work": True},
}  # fmt: skip


def _post(client: httpx.Client, path: str, body: dict[str, Any], status: int = 200) -> Any:
    answer = client.post(path, json=body)
    assert answer.status_code == status, f"{path}: {answer.status_code} {answer.text}"
    return answer.json()


def test_a_graduates_job_search_subsidy_is_checked_and_approved_by_a_second_person(
    worker_factory: Any, clients: list[httpx.Client]
) -> None:
    worker = worker_factory()
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("wang", "case_officer", PASSWORD, [WEIFANG])
    users.add_user("chen", "subsidy_approver", PASSWORD, [WEIFANG])
    users.add_user("liu", "subsidy_approver", PASSWORD, [LINYI])
    users.add_user("root", "admin", PASSWORD, [])
    wang, chen, liu, root = (signed_in(clients, worker, n, PASSWORD)
                             for n in ("wang", "chen", "liu", "root"))  # fmt: skip

    registered = _post(wang, "/api/persons", REGISTER, 201)
    assert "person.recognized" in registered["event_types"]
    unknown = wang.post(f"/api/persons/{P}/subsidies", json={"policy": "job_search"})
    assert unknown.status_code == 422 and "job_search_one_time" in unknown.json()["detail"]
    applied = _post(wang, f"/api/persons/{P}/subsidies", {"policy": "job_search_one_time"}, 201)
    app = applied["application_id"]
    assert (
        applied["event_types"] == ["subsidy.applied"] and applied["policy"] == "job_search_one_time"
    )
    base = f"/api/persons/{P}/subsidies/{app}"
    checked = _post(wang, f"{base}/check", {})
    assert (checked["eligible"], checked["amount"], checked["months"], checked["version"]) == (
        True, "1500.00", 1, f"{WEIFANG}@2")  # fmt: skip
    assert checked["failed"] == []

    # the officer is no approver; an administrator who checked it may not approve it either
    assert wang.post(f"{base}/approve", json={}).status_code == 403
    _post(root, f"{base}/check", {})
    refused = root.post(f"{base}/approve", json={})
    assert refused.status_code == 403 and "root checked it" in refused.json()["detail"]
    # Linyi's approver does not see a Weifang person
    assert liu.post(f"{base}/approve", json={}).status_code == 404
    approved = _post(chen, f"{base}/approve", {})
    assert approved["event_types"] == ["subsidy.approved", "subsidy.entitled"]
    assert (approved["amount"], approved["total"]) == ("1500.00", "1500.00")
    again = chen.post(f"{base}/approve", json={})
    assert again.status_code == 409 and "is entitled" in again.json()["detail"]

    # the log: every decision with its actor, nothing else for this application
    money = [e for e in read_log(worker) if e["aggregate_id"] == P
             and e["event_type"].startswith("subsidy.")]  # fmt: skip
    assert [(e["event_type"], e["actor"]) for e in money] == [
        ("subsidy.applied", "wang"), ("subsidy.checked", "wang"), ("subsidy.checked", "root"),
        ("subsidy.approved", "chen"), ("subsidy.entitled", "chen")]  # fmt: skip
    checked_doc = money[1]["payload"]
    assert checked_doc["groups"] == ["low_income_graduate"]
    assert checked_doc["facts"]["low_income"] is True and "national_id" not in checked_doc
    assert money[4]["payload"]["month"] == today().strftime("%Y-%m")
    # the projection: the person's timeline shows them
    worker.wait_settled()
    timeline = wang.get(f"/api/persons/{P}/timeline", params={"purpose": "补贴复核"})
    assert timeline.status_code == 200, timeline.text
    shown = [e["event_type"] for e in timeline.json() if e["event_type"].startswith("subsidy.")]
    assert shown == [e["event_type"] for e in money]
