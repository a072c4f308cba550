"""A graduate's job-search subsidy from application to recovery, on a real worker (real
broker, real embedded ClickHouse, the casework reactor on):

1. officer wang of 潍城区 registers a graduate of a low-income household and applies with
   the person's bank account (only its pseudonym and last four digits are kept); wang checks
   it; approver chen approves it (a second person);
2. payment officer qin gathers 潍城区's entitlements due into a batch (Linyi's payment
   officer may not); a second batch finds nothing due (the line is held by the first);
3. qin exports the bank's file: no clear identity or account in it, its digest in the log;
4. the bank's return file with a clerk's mistakes is refused naming each row, nothing
   recorded; the good file (GB18030, as banks send it) is reconciled: the reactor records
   ``subsidy.paid`` on the person's case, once, however often the file is sent again;
5. the civil-affairs review finds the household was never low-income: the correction
   orders the 1,500 yuan back; chen records it recovered.

Each step is asserted on the log, and the batch and the person's money on the projection."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from fixtures import SECRET, read_log
from money_flow import LANSHAN, NID, REGISTER, WEICHENG, WEIFANG, P, cast
from money_flow import post as _post
from money_flow import wait as _wait

from events.clock import today
from events.privacy import account_pseudonym

pytestmark = pytest.mark.integration
ACCOUNT = "6217 0000 1234 5678 901"
NOT_LOW_INCOME = {
    "low_income": False,
    "minimum_living_allowance": False,
    "extreme_poverty": False,
    "zero_employment_household": False,
}


def _money(worker: Any) -> list[dict[str, Any]]:
    return [
        e
        for e in read_log(worker)
        if e["aggregate_id"] == P and e["event_type"].startswith("subsidy.")
    ]


def test_a_graduate_is_paid_through_a_bank_batch_and_the_money_ordered_back_after_a_correction(
    worker_factory: Any, clients: list[httpx.Client]
) -> None:
    worker = worker_factory(EAMS_CASEWORK="true", EAMS_CASEWORK_INTERVAL="0.5")
    who = cast(worker, clients, zhou=("payment_officer", [LANSHAN]))
    wang, chen, qin, zhou = (who[n] for n in ("wang", "chen", "qin", "zhou"))
    month = today().strftime("%Y-%m")

    # 1. applied with the account, checked, approved by a second person
    _post(wang, "/api/persons", REGISTER, 201)
    bad = wang.post(
        f"/api/persons/{P}/subsidies",
        json={"policy": "job_search_one_time", "payee_account": "6217-abc"},
    )
    assert (
        bad.status_code == 422
        and "payee_account: a bank account number is 10-30 digits" in bad.text
    )
    applied = _post(
        wang,
        f"/api/persons/{P}/subsidies",
        {"policy": "job_search_one_time", "payee_account": ACCOUNT},
        201,
    )
    app = applied["application_id"]
    _post(wang, f"/api/persons/{P}/subsidies/{app}/check", {})
    _post(chen, f"/api/persons/{P}/subsidies/{app}/approve", {})
    [applied_event] = [e for e in _money(worker) if e["event_type"] == "subsidy.applied"]
    kept = applied_event["payload"]
    assert kept["payee_account_ref"] == account_pseudonym(ACCOUNT, SECRET.encode())
    assert kept["payee_account_masked"] == "****8901" and "5678" not in str(applied_event)

    # 2. a batch of what is due in 潍城区; another county's payment officer may not make it
    worker.wait_settled()
    refused = zhou.post("/api/payment-batches", json={"county": WEICHENG, "month": month})
    assert refused.status_code == 403, refused.text
    made = _post(qin, "/api/payment-batches", {"county": WEICHENG, "month": month}, 201)
    [batch] = made["batches"]
    assert (batch["count"], batch["total"]) == (1, "1500.00")
    batch_id = batch["batch_id"]
    assert batch_id == f"pb-{WEICHENG}-{month}-1"
    worker.wait_settled()
    nothing = qin.post("/api/payment-batches", json={"county": WEICHENG, "month": month})
    assert nothing.status_code == 409 and "nothing is due" in nothing.text
    [created] = read_log(worker, "payment_batch.created")
    assert created["actor"] == "qin" and created["region"] == WEICHENG
    [line] = created["payload"]["lines"]
    assert (line["person_id"], line["application_id"], line["amount"]) == (P, app, "1500.00")
    assert line["payee_account_masked"] == "****8901" and line["name_masked"] == "王**"

    # 3. the file for the bank: masks and references only, its digest recorded
    exported = qin.post(f"/api/payment-batches/{batch_id}/export")
    assert exported.status_code == 200, exported.text
    text = exported.content.decode("utf-8-sig")
    assert f"{batch_id}:1" in text and "****8901" in text and "1500.00" in text
    assert NID not in text and ACCOUNT.replace(" ", "") not in text and "王小明" not in text
    [export_event] = read_log(worker, "payment_batch.exported")
    assert export_event["payload"]["file_sha256"] == hashlib.sha256(exported.content).hexdigest()
    assert zhou.post(f"/api/payment-batches/{batch_id}/export").status_code == 404

    # 4. a return file with mistakes is refused whole; the bank's real one is reconciled
    wrong = f"序号,付款参考号,金额,结果\n1,{batch_id}:1,1 500,成功\n2,{batch_id}:2,600,成功\n"
    answer = qin.post(
        f"/api/payment-batches/{batch_id}/return",
        content=wrong.encode(),
        params={"filename": "回盘.csv"},
    )
    assert answer.status_code == 422, answer.text
    assert (
        "row 2, 金额: '1 500'" in answer.text
        and "row 3: line 2; the batch has lines 1-1" in answer.text
    )
    assert read_log(worker, "payment_batch.reconciled") == []
    good = "序号,付款参考号,金额,结果,日期,失败原因\n"
    good += f'1,{batch_id}:1,"1,500.00",成功,{today():%Y%m%d},\n'
    done = qin.post(
        f"/api/payment-batches/{batch_id}/return",
        content=good.encode("gb18030"),
        params={"filename": "回盘.csv"},
    )
    assert done.status_code == 200, done.text
    assert (done.json()["paid"], done.json()["paid_total"], done.json()["complete"]) == (
        1,
        "1500.00",
        True,
    )
    paid = _wait(
        "subsidy.paid",
        lambda: [e for e in _money(worker) if e["event_type"] == "subsidy.paid"],
        worker,
    )
    assert len(paid) == 1 and paid[0]["actor"] == "eams.casework"
    assert (paid[0]["payload"]["batch_id"], paid[0]["payload"]["amount"]) == (batch_id, "1500.00")
    # the same file again changes nothing, and the reactor records no second payment
    again = qin.post(
        f"/api/payment-batches/{batch_id}/return",
        content=good.encode("gb18030"),
        params={"filename": "回盘.csv"},
    )
    assert again.status_code == 200 and again.json()["unchanged"] is True
    # nothing new in the log for the reactor to react to: the one reconciliation, one payment
    assert len(read_log(worker, "payment_batch.reconciled")) == 1
    worker.wait_settled()
    assert len([e for e in _money(worker) if e["event_type"] == "subsidy.paid"]) == 1
    shown = qin.get(f"/api/payment-batches/{batch_id}").json()
    assert [(ln["line"], ln["outcome"]) for ln in shown["lines"]] == [(1, "paid")]
    [listed] = qin.get("/api/payment-batches").json()
    assert (listed["paid"], listed["unanswered"], listed["exports"]) == (1, 0, 1)
    assert zhou.get("/api/payment-batches").json() == []

    # 5. the household was never low-income: the money is ordered back and recovered
    corrected = _post(
        wang,
        f"/api/persons/{P}/facts/correct",
        {"facts": NOT_LOW_INCOME, "since": "2025-01-01", "document": "民政复核 2026-041"},
    )
    [order] = corrected["recovery_orders"]
    assert (order["application_id"], order["amount"]) == (app, "1500.00")
    _post(
        chen,
        f"/api/persons/{P}/subsidies/{app}/recoveries",
        {"order_id": order["order_id"], "amount": "1500.00"},
    )
    types = [e["event_type"] for e in _money(worker)]
    assert types == [
        "subsidy.applied",
        "subsidy.checked",
        "subsidy.approved",
        "subsidy.entitled",
        "subsidy.paid",
        "subsidy.entitled",
        "subsidy.stopped",
        "subsidy.recovery_ordered",
        "subsidy.recovered",
    ]
    # 6. every decision replays as of its day with the catalogue version it names
    worker.wait_settled()
    explained = wang.get(f"/api/persons/{P}/explain", params={"purpose": "补贴复核"})
    assert explained.status_code == 200, explained.text
    doc = explained.json()
    assert [(m["event_type"], m["reproduced"]) for m in doc["subsidies"]] == [
        ("subsidy.checked", True),
        ("subsidy.approved", True),
        ("subsidy.recovery_ordered", True),
    ]
    assert doc["subsidies"][0]["version"] == f"{WEIFANG}@2" and doc["reproduced"] is True
    assert doc["subsidies"][2]["replayed"] == {"overpaid": "1500.00"}
