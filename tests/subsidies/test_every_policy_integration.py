"""Every other kind of the catalogue from application to payment, on a real worker (real
broker, real embedded ClickHouse, the casework reactor on): the social-insurance subsidies
(an enterprise's hire, flexible work), the post subsidy, the start-up subsidy, the start-up
loan's interest subsidy, the venue-rent subsidy, the training subsidy and its living
allowance, the job-referral subsidy and the one-time temporary-assistance subsidy (the
graduate's job-search subsidy and the welfare post's pay have timelines of their own).

Each person of 潍城区 applies with what their policy reads, two months back; the check finds
each eligible with its amount and months; a second person approves; the months already
begun are entitled at once (three of a monthly subsidy, the one of a one-time); the county's
bank batch gathers every line, the bank pays them all, and each application is paid exactly
what it was entitled to. Asserted on the log and the money projection."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fixtures import SECRET, read_log
from money_flow import WEICHENG, cast, post, wait

from events.clock import today
from events.identity import make_national_id, make_uscc
from events.privacy import pseudonym

pytestmark = pytest.mark.integration
USCC = make_uscc("91370702MA3C5X7T4")


def _persons(on: dt.date) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """policy -> (registration, the facts the application states)."""
    ago = lambda days: (on - dt.timedelta(days=days)).isoformat()  # noqa: E731
    difficulty = {"target_group": "employment_difficulty", "gender": "male",
                  "birth_date": "1975-09-15",
                  "facts": {"able_to_work": True, "willing_to_work": True,
                            "unemployed_since": ago(200)}}  # fmt: skip
    in_need = {**difficulty, "facts": {**difficulty["facts"], "low_income": True}}
    hit = {"target_group": "temporary_assistance", "gender": "female", "birth_date": "1985-03-01",
           "facts": {"able_to_work": True, "willing_to_work": True,
                     "disaster_id": "flood-2026-07"}}  # fmt: skip
    hire = {"employment_kind": "enterprise", "insured": True, "contract_months": 24,
            "employer_uscc": USCC, "hired_on": ago(30)}  # fmt: skip
    business = {"employment_kind": "self_employment", "business_registered_on": ago(120)}
    return {
        "social_insurance_enterprise": (difficulty, {**hire, "contributions_monthly": "900.00"}),
        "social_insurance_flexible": (difficulty, {"employment_kind": "flexible", "insured": True,
                                                   "contributions_monthly": "700.00"}),
        "post": (difficulty, hire),
        "start_up": (difficulty, {**business, "business_registered_on": ago(400)}),
        "start_up_loan_interest": (difficulty, {**business, "loan_amount": "200000",
                                                "loan_months": 24}),
        "venue_rent": (in_need, {**business, "rent_monthly": "2000.00"}),
        "training": (difficulty, {"course_id": "c-weld-01", "training_passed": True}),
        "training_living_allowance": (difficulty, {"course_id": "c-weld-01",
                                                   "training_passed": True, "training_days": 20}),
        "job_referral": (difficulty, {"contract_months": 12, "employer_uscc": USCC,
                                      "employment_kind": "enterprise"}),
        "temporary_assistance_one_time": (hit, {}),
    }  # fmt: skip


def test_every_kind_is_checked_approved_entitled_and_paid_through_the_bank(
    worker_factory: Any, clients: list[httpx.Client]
) -> None:
    worker = worker_factory(EAMS_CASEWORK="true", EAMS_CASEWORK_INTERVAL="0.5")
    who = cast(worker, clients)
    wang, chen, qin = who["wang"], who["chen"], who["qin"]
    now = today()
    first = (now.replace(day=1) - dt.timedelta(days=40)).replace(day=5)  # two months back
    begun = (now.year * 12 + now.month) - (first.year * 12 + first.month) + 1  # 3

    checked: dict[str, dict[str, Any]] = {}
    person_of: dict[str, str] = {}
    for n, (policy, (register, facts)) in enumerate(_persons(first).items(), start=1):
        nid = make_national_id(WEICHENG, dt.date.fromisoformat(register["birth_date"]), n)
        person = pseudonym(nid, SECRET.encode())
        body = {**register, "national_id": nid, "name": f"申请人{n}", "region": WEICHENG}
        post(wang, "/api/persons", body, 201)
        applied = post(wang, f"/api/persons/{person}/subsidies",
                       {"policy": policy, "facts": facts, "on": first.isoformat(),
                        "payee_account": f"62170000{n:010d}"}, 201)  # fmt: skip
        app = applied["application_id"]
        done = post(wang, f"/api/persons/{person}/subsidies/{app}/check",
                    {"on": first.isoformat()})  # fmt: skip
        assert done["eligible"] is True, (policy, done["failed"])
        post(chen, f"/api/persons/{person}/subsidies/{app}/approve", {})
        checked[app] = done | {"policy": policy}
        person_of[app] = person

    # the months begun are entitled at approval: three of a monthly subsidy, one of a once
    entitled = [e["payload"] for e in read_log(worker, "subsidy.entitled")]
    per_app = Counter(p["application_id"] for p in entitled)
    for app, done in checked.items():
        months = min(done["months"], begun)
        assert per_app[app] == months, done["policy"]
        assert {p["amount"] for p in entitled if p["application_id"] == app} == {done["amount"]}
    monthly = {done["policy"] for done in checked.values() if done["months"] > 1}
    assert monthly == {"social_insurance_enterprise", "social_insurance_flexible", "post",
                       "start_up_loan_interest", "venue_rent"}  # fmt: skip
    due = sum((Decimal(p["amount"]) for p in entitled), Decimal(0))

    # one batch of the county's lines; the bank pays every one
    worker.wait_settled()
    form = {"county": WEICHENG, "month": now.strftime("%Y-%m")}
    [batch] = post(qin, "/api/payment-batches", form, 201)["batches"]
    assert (batch["count"], Decimal(batch["total"])) == (len(entitled), due)
    worker.wait_settled()
    batch_id = batch["batch_id"]
    assert qin.post(f"/api/payment-batches/{batch_id}/export").status_code == 200
    answer = "序号,结果\n" + "".join(f"{n},成功\n" for n in range(1, len(entitled) + 1))
    done = qin.post(f"/api/payment-batches/{batch_id}/return", content=answer.encode(),
                    params={"filename": "回盘.csv"})  # fmt: skip
    assert done.status_code == 200 and done.json()["paid"] == len(entitled), done.text
    paid = wait("every payment",
                lambda: (got := read_log(worker, "subsidy.paid")) and len(got) == len(entitled)
                and got, worker)  # fmt: skip

    # each application paid exactly its entitlement, month by month, on the person's case
    got: dict[str, Decimal] = {}
    for e in paid:
        app = e["payload"]["application_id"]
        assert e["aggregate_id"] == person_of[app] and e["actor"] == "eams.casework"
        got[app] = got.get(app, Decimal(0)) + Decimal(e["payload"]["amount"])
    for app, done in checked.items():
        months = min(done["months"], begun)
        assert got[app] == Decimal(done["amount"]) * months, done["policy"]
    # and the projection agrees: every line paid, nothing of the county left due
    worker.wait_settled()
    lines = qin.get(f"/api/payment-batches/{batch_id}").json()["lines"]
    assert {ln["outcome"] for ln in lines} == {"paid"}
    assert {ln["application_id"] for ln in lines} == set(checked)
    again = qin.post(
        "/api/payment-batches", json={"county": WEICHENG, "month": now.strftime("%Y-%m")}
    )
    assert again.status_code == 409 and "nothing is due" in again.text
