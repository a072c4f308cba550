"""A duplicate payment across two counties, from suspicion to recovery, on a real worker
(real broker, real embedded ClickHouse, the casework reactor and the fraud sweep on):

1. the graduate of 潍城区 (潍坊市) is paid the job-search subsidy through EAMS's bank batch;
2. 兰山区 (临沂市)'s own payment ledger, imported, shows it paid the same person the same
   subsidy for the same month a week earlier;
3. the sweep raises ``fraud.suspected`` (duplicate_payment) once, in 潍城区 (the county that
   paid second and orders back), with both payments as evidence; more sweeps raise nothing;
4. Linyi's auditor does not see it; Weifang's auditor sees it on /api/fraud-cases and on
   the console's 稽核 page (in Chromium: the county's figures, the case with its evidence)
   and confirms it there with the reason; the reactor orders the 1,500 yuan back on the
   person's case (``subsidy.recovery_ordered`` naming the case);
5. the approver records it recovered (``subsidy.recovered`` naming the case); the figures
   per county say 1 suspected, 1 confirmed, 1,500 ordered and recovered."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fixtures import read_log, wait_ticks
from helpers import encode, event, in_thread, produce
from money_flow import (
    ARTIFACTS,
    CHROMIUM,
    LANSHAN,
    LINYI,
    NID,
    PASSWORD,
    WEICHENG,
    WEIFANG,
    P,
    cast,
    paid_graduate,
    post,
    wait,
)
from playwright.sync_api import expect, sync_playwright

from events.clock import SHANGHAI, today

pytestmark = pytest.mark.integration
REASON = "兰山区台账已发放，潍城区重复发放"


def _confirm_in_console(base: str, case_id: str) -> None:
    """sun opens 稽核: the county's figures and the case with its evidence; confirms it with
    the reason."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(f"{base}/console/")
            page.fill("input[name=name]", "sun")
            page.fill("input[name=password]", PASSWORD)
            page.click("#signin-form button[type=submit]")
            page.click("#tabs button[data-tab=audit]")
            row = page.locator(f"#fraud-cases tr[data-case='{case_id}']")
            expect(row).to_contain_text("潍城区")
            expect(row).to_contain_text("同一人同一期间重复领取")
            expect(row).to_contain_text("1,500.00")
            expect(row).to_contain_text("县区发放台账")
            expect(row).to_contain_text("兰山区")
            expect(page.locator("#fraud-figures")).to_contain_text("潍城区")
            page.screenshot(path=str(ARTIFACTS / "audit-1-case.png"), full_page=True)
            row.locator("input[name=reason]").fill(REASON)
            row.locator("button[value=confirm]").click()
            expect(row).to_contain_text(f"sun {REASON}")
            page.screenshot(path=str(ARTIFACTS / "audit-2-confirmed.png"), full_page=True)
        finally:
            browser.close()


def test_a_duplicate_payment_across_two_counties_is_flagged_confirmed_and_recovered(
    worker_factory: Any, clients: list[httpx.Client]
) -> None:
    worker = worker_factory(
        EAMS_CASEWORK="true", EAMS_CASEWORK_INTERVAL="0.5", EAMS_FRAUD_INTERVAL="0.5"
    )
    who = cast(worker, clients, sun=("auditor", [WEIFANG]), ma=("auditor", [LINYI]))
    app, batch = paid_graduate(worker, who)
    assert read_log(worker, "fraud.suspected") == []  # one payment: nothing to flag

    # 2. 兰山区's ledger: the same person, subsidy and month, paid a week earlier
    month = today().strftime("%Y-%m")
    earlier = dt.datetime.now(SHANGHAI) - dt.timedelta(days=7)
    ledger = event(
        "subsidy.payment_reported",
        LANSHAN,
        {
            "national_id": NID,
            "name": "王小明",
            "subsidy": "job_search_one_time",
            "month": month,
            "amount": "1500.00",
            "paid_on": earlier.date().isoformat(),
            "ledger": "LS-2026-0311",
        },
        at=earlier,
    )
    produce(
        worker.kafka("raw"),
        worker.settings.topics.ingest_raw,
        encode([ledger]),
        source="ledger-import",
    )

    # 3. raised once, in 潍城区, with both payments as evidence
    [suspected] = wait("fraud.suspected", lambda: read_log(worker, "fraud.suspected"), worker)
    s = suspected["payload"]
    assert (suspected["region"], s["rule"], s["person_id"], s["amount"]) == (
        WEICHENG,
        "duplicate_payment",
        P,
        "1500.00",
    )
    assert [e["region"] for e in s["evidence"]] == [LANSHAN, WEICHENG]
    assert s["recoveries"] == [{"person_id": P, "application_id": app, "amount": "1500.00"}]
    assert suspected["actor"] == "eams.supervision" and NID not in str(suspected)
    wait_ticks(worker, "fraud", 3)
    assert len(read_log(worker, "fraud.suspected")) == 1

    # 4. Weifang's auditor sees and confirms it; Linyi's does not see it
    sun, ma, chen = who["sun"], who["ma"], who["chen"]
    worker.wait_settled()
    assert ma.get("/api/fraud-cases").json() == []
    [case] = sun.get("/api/fraud-cases", params={"status": "suspected"}).json()
    assert (case["region_name"], case["rule"], case["amount"]) == (
        "潍城区",
        "duplicate_payment",
        "1500.00",
    )
    case_id = case["case_id"]
    assert ma.post(f"/api/fraud-cases/{case_id}/confirm", json={"reason": "x"}).status_code == 404
    assert chen.post(f"/api/fraud-cases/{case_id}/confirm", json={"reason": "x"}).status_code == 403
    # the auditor confirms it on the console's 稽核 page (the browser in a thread of its own:
    # Playwright's sync API owns its thread's event loop, the broker's helpers theirs)
    in_thread(_confirm_in_console, str(worker.api.base_url).rstrip("/"), case_id)
    again = sun.post(f"/api/fraud-cases/{case_id}/dismiss", json={"reason": "x"})
    assert again.status_code == 409
    [ordered] = wait(
        "subsidy.recovery_ordered", lambda: read_log(worker, "subsidy.recovery_ordered"), worker
    )
    o = ordered["payload"]
    assert (ordered["aggregate_id"], o["application_id"], o["amount"], o["fraud_case_id"]) == (
        P,
        app,
        "1500.00",
        case_id,
    )
    assert ordered["actor"] == "eams.casework"

    # 5. recovered; the figures per county
    post(
        chen,
        f"/api/persons/{P}/subsidies/{app}/recoveries",
        {"order_id": o["order_id"], "amount": "1500.00"},
    )
    [recovered] = read_log(worker, "subsidy.recovered")
    assert recovered["payload"]["fraud_case_id"] == case_id
    worker.wait_settled()
    [figures] = sun.get("/api/fraud-cases/summary").json()
    assert (figures["region"], figures["suspected"], figures["confirmed"], figures["open"]) == (
        WEICHENG,
        1,
        1,
        0,
    )
    assert Decimal(figures["ordered"]) == Decimal(figures["recovered"]) == Decimal("1500.00")
    [decided] = sun.get("/api/fraud-cases").json()
    assert decided["status"] == "confirmed" and decided["decided_by"] == "sun"
    assert decided["reason"] == REASON
    assert batch in str(read_log(worker, "subsidy.paid"))
