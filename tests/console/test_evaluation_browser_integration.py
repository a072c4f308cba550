"""A period's performance evaluation frozen, exported and shown, on a real worker (real
broker, real embedded ClickHouse) and in headless Chromium:

- last month's casework in 兰山区 (临沂市) and 历下区 (济南市) comes in through ingest, as
  offices' records of what happened then;
- an auditor limited to Linyi may not freeze (every region is ranked); the province's
  auditor sun freezes last month (``evaluation.frozen`` in the log with every city and
  county) and cannot freeze it twice; what froze is what ``live`` computed;
- a record of last month arriving after the freeze changes the live figures, not the
  frozen ones: ``verify`` computes the period again as of the freeze and says reproduced;
- the Excel and the PDF hold the frozen figures (Linyi's rank, total and coverage, 兰山区's
  row), and so does the console's 绩效评价 page, read cell by cell in the browser.

Screenshots are kept in test-artifacts/console/.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
from fixtures import read_log
from helpers import encode, event, produce, signed_in
from playwright.sync_api import Browser, expect, sync_playwright
from python_calamine import CalamineWorkbook

from eams.auth import UserStore
from eams.evaluations import percent
from events.clock import SHANGHAI, today
from events.identity import make_national_id

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "console"
PASSWORD = "correct horse battery"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LANSHAN, LINYI, LIXIA, JINAN = "371302", "371300", "370102", "370100"


def _last_month() -> tuple[str, dt.datetime]:
    first = today().replace(day=1) - dt.timedelta(days=1)
    return first.strftime("%Y-%m"), dt.datetime.combine(first.replace(day=10), dt.time(9), SHANGHAI)


def _casework(at: dt.datetime) -> list[dict[str, Any]]:
    """Three recognised persons of 兰山区 (two served), one of 历下区 (not served)."""
    out = []
    recognised = {"target_group": "employment_difficulty", "rule_set": "371300@1", "rule_id": "x"}
    for n, (county, served) in enumerate(
        [(LANSHAN, True), (LANSHAN, True), (LANSHAN, False), (LIXIA, False)]
    ):
        nid = make_national_id(county, dt.date(1975, 1, 1 + n), 11 + n)
        out.append(event("person.recognized", county, {"national_id": nid, **recognised}, at=at))
        if served:
            out.append(
                event(
                    "service.delivered",
                    county,
                    {
                        "national_id": nid,
                        "service": "job_referral",
                        "delivered_on": at.date().isoformat(),
                    },
                    at=at + dt.timedelta(hours=1),
                )
            )
    return out


def test_a_period_is_frozen_exported_and_shown_with_the_same_figures(
    worker_factory: Any, clients: list[httpx.Client]
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    worker = worker_factory()
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("sun", "auditor", PASSWORD, [])
    users.add_user("ma", "auditor", PASSWORD, [LINYI])
    sun, ma = (signed_in(clients, worker, n, PASSWORD) for n in ("sun", "ma"))
    period, at = _last_month()
    raw = worker.settings.topics.ingest_raw
    produce(worker.kafka("raw"), raw, encode(_casework(at)))
    worker.wait_settled()

    live = sun.get("/api/evaluations/live", params={"period": period})
    assert live.status_code == 200, live.text
    regions = {r["region"]: r for r in live.json()["regions"]}
    assert regions[LANSHAN]["indicators"]["coverage"]["numerator"] == "2"
    assert regions[LANSHAN]["indicators"]["coverage"]["denominator"] == "3"
    assert regions[LIXIA]["indicators"]["coverage"]["numerator"] == "0"
    assert regions[LINYI]["name"] == "临沂市" and regions[LINYI]["rank"] == 1

    # freezing: not by an auditor of one city; once by the province's; never twice
    refused = ma.post("/api/evaluations", json={"period": period})
    assert refused.status_code == 403, refused.text
    early = sun.post("/api/evaluations", json={"period": today().strftime("%Y-%m")})
    assert early.status_code == 422 and "freeze it after that" in early.text
    frozen = sun.post("/api/evaluations", json={"period": period})
    assert frozen.status_code == 201, frozen.text
    ev = frozen.json()["evaluation_id"]
    assert sun.post("/api/evaluations", json={"period": period}).status_code == 409
    [logged] = read_log(worker, "evaluation.frozen")
    assert logged["actor"] == "sun" and logged["aggregate_id"] == ev
    assert len(logged["payload"]["scores"]) == 1 + 16 + sum(
        1 for r in live.json()["regions"] if r["level"] == "county"
    )
    worker.wait_settled()
    doc = sun.get(f"/api/evaluations/{ev}").json()
    kept = {r["region"]: r for r in doc["regions"]}
    for code in (LANSHAN, LIXIA, LINYI, JINAN, "370000"):
        assert {k: kept[code][k] for k in ("indicators", "total", "rank")} == {
            k: regions[code][k] for k in ("indicators", "total", "rank")
        }

    # a record of last month arriving after the freeze: live changes, frozen stays
    late_nid = make_national_id(LIXIA, dt.date(1975, 1, 4), 14)
    late = event(
        "service.delivered",
        LIXIA,
        {"national_id": late_nid, "service": "job_referral", "delivered_on": at.date().isoformat()},
        at=at + dt.timedelta(days=2),
    )
    produce(worker.kafka("raw"), raw, encode([late]))
    worker.wait_settled()
    again = {
        r["region"]: r
        for r in sun.get("/api/evaluations/live", params={"period": period}).json()["regions"]
    }
    assert again[LIXIA]["indicators"]["coverage"]["numerator"] == "1"
    verified = sun.get(f"/api/evaluations/{ev}/verify").json()
    assert verified == {"evaluation_id": ev, "reproduced": True, "differences": []}

    # the files: the frozen figures
    linyi, lanshan = kept[LINYI], kept[LANSHAN]
    xlsx = sun.get(f"/api/evaluations/{ev}/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith(
        "application/vnd.openxml"
    )
    book = CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content))
    [row] = [r for r in book.get_sheet_by_name("各市").to_python() if len(r) > 2 and r[2] == LINYI]
    assert (row[0], row[1], row[3]) == (
        linyi["rank"],
        "临沂市",
        pytest.approx(float(linyi["total"])),
    )
    [row] = [
        r
        for r in book.get_sheet_by_name("各县（市、区）").to_python()
        if len(r) > 2 and r[2] == LANSHAN
    ]
    assert row[5] == pytest.approx(float(lanshan["indicators"]["coverage"]["value"]))
    pdf = sun.get(f"/api/evaluations/{ev}/export", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    coverage = lanshan["indicators"]["coverage"]
    assert linyi["total"] in text and f"{percent(coverage['value'])} ({coverage['score']})" in text

    # the console: the same figures, cell by cell (Playwright's sync API takes this thread's
    # event loop: the browser starts once the broker's helpers are done)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            _console(browser, str(worker.api.base_url).rstrip("/"), period, ev, linyi, lanshan)
        finally:
            browser.close()


def _console(browser: Browser, base: str, period: str, ev: str, linyi: Any, lanshan: Any) -> None:
    coverage = lanshan["indicators"]["coverage"]
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(f"{base}/console/")
    page.fill("input[name=name]", "sun")
    page.fill("input[name=password]", PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.click("#tabs button[data-tab=evaluation]")
    form = page.locator("#ev-form")
    form.locator("input[name=period]").fill(period)
    form.locator("button[type=submit]").click()
    city = page.locator(f"#ev-cities tr[data-region='{LINYI}']")
    expect(city.locator("td.total")).to_have_text(linyi["total"])
    expect(city.locator("td").nth(0)).to_have_text(str(linyi["rank"]))
    expect(page.locator("#ev-title")).to_contain_text("已定稿")
    county = page.locator(f"#ev-counties tr[data-region='{LANSHAN}']")
    expect(county).to_contain_text("兰山区")
    expect(county).to_contain_text(f"{percent(coverage['value'])} ({coverage['score']})")
    page.click("#ev-verify")
    expect(page.locator("#ev-verified")).to_have_text("复核一致")
    assert (
        page.locator("#ev-xlsx").get_attribute("href")
        == f"/api/evaluations/{ev}/export?format=xlsx&lang=zh"
    )
    page.screenshot(path=str(ARTIFACTS / "evaluation-frozen.png"), full_page=True)
    page.close()
