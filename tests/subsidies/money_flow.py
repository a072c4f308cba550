"""Shared steps of the money's timeline tests on a real worker: sign-in of the usual cast,
a graduate of 潍城区 paid the job-search subsidy through a bank batch, and the console's
browser run in a thread of its own (Playwright's sync API owns its thread's event loop, the
broker's helpers theirs)."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
from fixtures import SECRET, read_log
from helpers import signed_in

from eams.auth import UserStore
from events.clock import today
from events.identity import make_national_id
from events.privacy import pseudonym

PASSWORD = "correct horse battery"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "console"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WEICHENG, WEIFANG, LANSHAN, LINYI = "370702", "370700", "371302", "371300"
NID = make_national_id(WEICHENG, dt.date(2003, 4, 1), 26)
P = pseudonym(NID, SECRET.encode())
REGISTER = {
    "national_id": NID,
    "name": "王小明",
    "region": WEICHENG,
    "target_group": "low_income_graduate",
    "employment_status": "job_seeking_graduate",
    "facts": {
        "graduated_on": (today() - dt.timedelta(days=200)).isoformat(),
        "low_income": True,
        "able_to_work": True,
        "willing_to_work": True,
    },
}


def post(client: httpx.Client, path: str, body: dict[str, Any], status: int = 200) -> Any:
    answer = client.post(path, json=body)
    assert answer.status_code == status, f"{path}: {answer.status_code} {answer.text}"
    return answer.json()


def wait(what: str, check: Any, worker: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{worker.tail()}")


def cast(
    worker: Any, clients: list[httpx.Client], **more: tuple[str, list[str]]
) -> dict[str, httpx.Client]:
    """wang (case officer, 潍坊市), chen (approver, 潍坊市), qin (payment officer, 潍城区) and
    ``more`` (name -> role, regions), each signed in."""
    users = UserStore(worker.state_dir / "users.sqlite")
    people = {
        "wang": ("case_officer", [WEIFANG]),
        "chen": ("subsidy_approver", [WEIFANG]),
        "qin": ("payment_officer", [WEICHENG]),
    } | more
    for name, (role, regions) in people.items():
        users.add_user(name, role, PASSWORD, regions)
    return {name: signed_in(clients, worker, name, PASSWORD) for name in people}


def paid_graduate(worker: Any, who: dict[str, httpx.Client]) -> tuple[str, str]:
    """The graduate registered, applied, checked, approved, batched, exported and paid
    (the bank's return reconciled and the payment in the log): (application, batch)."""
    wang, chen, qin = who["wang"], who["chen"], who["qin"]
    post(wang, "/api/persons", REGISTER, 201)
    applied = post(
        wang,
        f"/api/persons/{P}/subsidies",
        {"policy": "job_search_one_time", "payee_account": "6217000012345678901"},
        201,
    )
    app = applied["application_id"]
    post(wang, f"/api/persons/{P}/subsidies/{app}/check", {})
    post(chen, f"/api/persons/{P}/subsidies/{app}/approve", {})
    worker.wait_settled()
    [batch] = post(
        qin, "/api/payment-batches", {"county": WEICHENG, "month": today().strftime("%Y-%m")}, 201
    )["batches"]
    batch_id = batch["batch_id"]
    worker.wait_settled()
    assert qin.post(f"/api/payment-batches/{batch_id}/export").status_code == 200
    good = "序号,结果\n1,成功\n".encode()
    done = qin.post(
        f"/api/payment-batches/{batch_id}/return", content=good, params={"filename": "r.csv"}
    )
    assert done.status_code == 200, done.text
    wait("subsidy.paid", lambda: read_log(worker, "subsidy.paid"), worker)
    return app, batch_id
