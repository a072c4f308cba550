"""A rural public-welfare post (乡村公益性岗位) from opening to leaving, on a real worker (real
broker, real embedded ClickHouse, the casework reactor and the risk evaluator on):

1. officer wang of 潍坊市 opens a one-slot post in 潍城区 (Linyi's officer may neither open
   one there nor see it);
2. a graduate is put forward and found not eligible, each failed condition named; a rural
   labourer is eligible; approver chen approves (a second person): the person is assigned
   and the reactor seats them on the post; the post is full;
3. a second labourer put forward on the full post is refused (409); entered by the subsidy
   route anyway and approved, the post turns them back and the reactor vacates them;
4. the village's attendance sheet (GB18030, a title row, names and citizen IDs) entitles the
   month's pay in proportion; a row for someone who never held the post refuses the sheet;
5. payment officer qin pays the month through 潍城区's bank batch;
6. the counts per county (the officers' summary; an analyst's indicators, with the one
   holder under 5 and the slots as they are);
7. wang lets the holder go: the slot is freed; the check and approval replay as of their day.

Each step is asserted on the log and the projections."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fixtures import SECRET, read_log
from helpers import in_thread, signed_in
from money_flow import (
    ARTIFACTS,
    CHROMIUM,
    LINYI,
    PASSWORD,
    REGISTER,
    WEICHENG,
    WEIFANG,
    P,
    cast,
)
from money_flow import post as _post
from money_flow import wait as _wait
from playwright.sync_api import expect, sync_playwright

from eams.auth import UserStore
from events.clock import today
from events.identity import make_national_id
from events.privacy import pseudonym
from projections.disclosure import WITHHELD

pytestmark = pytest.mark.integration


def _rural(seq: int, name: str) -> tuple[str, str, dict[str, Any]]:
    nid = make_national_id(WEICHENG, dt.date(1980, 5, 1), seq)
    body = {"national_id": nid, "name": name, "region": WEICHENG,
            "target_group": "rural_surplus_labour",
            "facts": {"hukou": "rural", "able_to_work": True, "willing_to_work": True,
                      "transferred": False}}  # fmt: skip
    return nid, pseudonym(nid, SECRET.encode()), body


def _log(worker: Any, prefix: str, person: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in read_log(worker)
        if e["event_type"].startswith(prefix) and (person is None or e["aggregate_id"] == person)
    ]


def _posts_in_console(base: str, post_id: str) -> None:
    """wang opens 公益性岗位: 潍城区's counts, the post and its holder with the month's money;
    opens a second post with the form."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/console/")
            page.fill("input[name=name]", "wang")
            page.fill("input[name=password]", PASSWORD)
            page.click("#signin-form button[type=submit]")
            page.click("#tabs button[data-tab=posts]")
            county = page.locator("#wp-counties tbody tr").first
            expect(county).to_have_text("潍城区1110")
            row = page.locator(f"#wp-posts tr[data-post='{post_id}']")
            expect(row).to_contain_text("村庄保洁")
            expect(row).to_contain_text("北关村")
            row.locator("a.post-link").click()
            holder = page.locator("#wp-holders tbody tr").first
            expect(holder).to_contain_text("李**")
            expect(holder).to_contain_text("1,000.00")
            expect(holder).to_contain_text("在岗")
            page.screenshot(path=str(ARTIFACTS / "posts-1-holder.png"), full_page=True)
            form = page.locator("#wp-form")
            form.locator("input[name=region]").fill(WEICHENG)
            form.locator("input[name=title]").fill("护林防火")
            form.locator("input[name=slots]").fill("2")
            form.locator("button[type=submit]").click()
            expect(page.locator("#wp-posts")).to_contain_text("护林防火")
            expect(county).to_have_text("潍城区2312")
            page.screenshot(path=str(ARTIFACTS / "posts-2-opened.png"), full_page=True)
        finally:
            browser.close()


def test_a_rural_post_is_opened_taken_paid_on_attendance_and_left(
    worker_factory: Any, clients: list[httpx.Client]
) -> None:
    worker = worker_factory(EAMS_CASEWORK="true", EAMS_CASEWORK_INTERVAL="0.5",
                            EAMS_RISK_INTERVAL="0.5")  # fmt: skip
    who = cast(worker, clients, zhao=("case_officer", [LINYI]))
    wang, chen, qin, zhao = (who[n] for n in ("wang", "chen", "qin", "zhao"))
    UserStore(worker.state_dir / "users.sqlite").add_user("ana", "analyst", PASSWORD, [])
    ana = signed_in(clients, worker, "ana", PASSWORD)
    month = today().strftime("%Y-%m")

    # 1. the post
    form = {"region": WEICHENG, "title": "村庄保洁", "village": "北关村", "slots": 1,
            "days_required": 22}  # fmt: skip
    assert zhao.post("/api/welfare-posts", json=form).status_code == 403
    retry = {"Idempotency-Key": "open-beiguan-1"}
    opened = wang.post("/api/welfare-posts", json=form, headers=retry)
    assert opened.status_code == 201, opened.text
    post_id = opened.json()["post_id"]
    again = wang.post("/api/welfare-posts", json=form, headers=retry)  # a retry: the same post
    assert (again.json()["post_id"], again.json()["duplicate"]) == (post_id, True)
    [event] = read_log(worker, "welfare_post.opened")
    assert (event["aggregate_id"], event["region"], event["payload"]["slots"]) == (
        post_id, WEICHENG, 1)  # fmt: skip
    worker.wait_settled()
    answer = wang.get("/api/welfare-posts")
    assert answer.status_code == 200, worker.tail(60)
    [listed] = answer.json()
    assert (listed["post_id"], listed["region_name"], listed["vacant"]) == (post_id, "潍城区", 1)
    assert zhao.get("/api/welfare-posts").json() == []
    assert zhao.get(f"/api/welfare-posts/{post_id}").status_code == 404

    # 2. put forward: the graduate is not eligible, the labourer is; a second person approves
    _post(wang, "/api/persons", REGISTER, 201)
    graduate = _post(wang, f"/api/welfare-posts/{post_id}/candidates", {"person_id": P}, 201)
    assert graduate["eligible"] is False and graduate["failed"]
    nid, labourer, body = _rural(31, "李大山")
    _post(wang, "/api/persons", body, 201)
    put = {"person_id": labourer, "payee_account": "6217000012349999"}
    key = {"Idempotency-Key": "candidate-li-1"}
    answers = [
        wang.post(f"/api/welfare-posts/{post_id}/candidates", json=put, headers=key)
        for _ in range(2)
    ]  # a retry names the same application (no second one)
    assert [a.status_code for a in answers] == [201, 201], answers[1].text
    checked = answers[1].json()
    assert checked["application_id"] == answers[0].json()["application_id"]
    assert len(_log(worker, "subsidy.applied", labourer)) == 1
    assert (checked["eligible"], checked["amount"], checked["months"]) == (True, "1100.00", 36)
    app = checked["application_id"]
    refused = wang.post(f"/api/persons/{labourer}/subsidies/{app}/approve", json={})
    assert refused.status_code == 403  # wang applied for it
    approved = _post(chen, f"/api/persons/{labourer}/subsidies/{app}/approve", {})
    assert approved["event_types"] == ["subsidy.approved", "welfare_post.assigned"]
    _wait("the seat", lambda: read_log(worker, "welfare_post.seated"), worker)
    worker.wait_settled()
    shown = wang.get(f"/api/welfare-posts/{post_id}").json()
    assert (shown["seated"], shown["vacant"]) == (1, 0)
    [holder] = shown["holders"]
    assert (holder["person_id"], holder["name_masked"], holder["first_month"]) == (
        labourer, "李**", month)  # fmt: skip

    # 3. the post is full: refused up front; an approval that slips past is turned back
    _, second, body2 = _rural(32, "赵小河")
    _post(wang, "/api/persons", body2, 201)
    full = wang.post(f"/api/welfare-posts/{post_id}/candidates", json={"person_id": second})
    assert full.status_code == 409 and "slots" in full.text
    slipped = _post(
        wang,
        f"/api/persons/{second}/subsidies",
        {
            "policy": "welfare_post_pay",
            "facts": {"employment_kind": "welfare_post", "post_id": post_id},
        },
        201,
    )
    app2 = slipped["application_id"]
    assert _post(wang, f"/api/persons/{second}/subsidies/{app2}/check", {})["eligible"] is True
    _post(chen, f"/api/persons/{second}/subsidies/{app2}/approve", {})
    back = _wait("the full post's turn-back", lambda: _log(worker, "welfare_post.vacated", second),
                 worker)  # fmt: skip
    assert back[0]["payload"]["cause"] == "full" and back[0]["actor"] == "eams.casework"
    [overbooked] = read_log(worker, "welfare_post.overbooked")
    assert overbooked["payload"]["person_id"] == second
    assert len(read_log(worker, "welfare_post.seated")) == 1

    # 4. the village's sheet: a stranger refuses it whole; the real one entitles the pay
    stranger = make_national_id(WEICHENG, dt.date(1990, 1, 1), 77)
    sheet = f"北关村公益性岗位{month}考勤表,,,\n序号,姓名,身份证号,出勤天数\n1,李大山,{nid},20\n"
    wrong = sheet + f"2,某某,{stranger},22\n"
    path = f"/api/welfare-posts/{post_id}/attendance/{month}/sheet"
    answer = wang.post(path, content=wrong.encode("gb18030"), params={"filename": "考勤.csv"})
    assert answer.status_code == 422 and "row 4: the person does not hold post" in answer.text
    assert read_log(worker, "welfare_post.attendance_recorded") == []
    answer = wang.post(path, content=sheet.encode("gb18030"), params={"filename": "考勤.csv"})
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["rows"]
    assert (row["accepted"], row["amount"]) == (True, "1000.00")  # 20 of 22 days of 1,100
    again = wang.post(path, content=sheet.encode("gb18030"), params={"filename": "考勤.csv"})
    assert again.json()["rows"][0]["unchanged"] is True
    [recorded] = read_log(worker, "welfare_post.attendance_recorded")
    assert nid not in str(recorded) and recorded["aggregate_id"] == labourer
    entitled = [e for e in _log(worker, "subsidy.entitled", labourer)]
    assert [(e["payload"]["month"], e["payload"]["amount"]) for e in entitled] == [
        (month, "1000.00")]  # fmt: skip

    # 5. paid through the county's batch
    worker.wait_settled()
    [batch] = _post(qin, "/api/payment-batches", {"county": WEICHENG, "month": month},
                    201)["batches"]  # fmt: skip
    assert (batch["count"], batch["total"]) == (1, "1000.00")
    worker.wait_settled()
    assert qin.post(f"/api/payment-batches/{batch['batch_id']}/export").status_code == 200
    done = qin.post(
        f"/api/payment-batches/{batch['batch_id']}/return",
        content="序号,结果\n1,成功\n".encode(),
        params={"filename": "r.csv"},
    )
    assert done.status_code == 200, done.text
    paid = _wait("the pay", lambda: _log(worker, "subsidy.paid", labourer), worker)
    assert paid[0]["payload"]["amount"] == "1000.00"

    # 6. the counts per county: exact for the officer, under 5 for an analyst
    summary = wang.get("/api/welfare-posts/summary").json()
    assert summary["counties"] == [{"region": WEICHENG, "region_name": "潍城区",
                                    "city_name": "潍坊市", "posts": 1, "slots": 1, "seated": 1,
                                    "vacant": 0}]  # fmt: skip

    def indicators() -> Any:
        got = ana.get("/api/indicators", params={"region": WEICHENG}).json()
        return got if got.get("welfare_post_holders") == "<5" else None

    got = _wait("the indicators", indicators, worker)
    # the slots would give the one holder back (1 slot, "<5" holders): withheld with it
    assert got["welfare_post_slots"] == WITHHELD
    assert ana.get("/api/welfare-posts").status_code == 403

    # the officer's console page shows the same; a second post is opened there
    in_thread(_posts_in_console, str(worker.api.base_url).rstrip("/"), post_id)
    [second_post] = [
        e for e in read_log(worker, "welfare_post.opened") if e["aggregate_id"] != post_id
    ]
    assert (second_post["region"], second_post["payload"]["title"], second_post["actor"]) == (
        WEICHENG, "护林防火", "wang")  # fmt: skip

    # 7. the holder leaves; the slot is freed; the decisions replay
    left = _post(wang, f"/api/persons/{labourer}/welfare-post/vacate",
                 {"post_id": post_id, "reason": "外出务工"})  # fmt: skip
    assert left["event_types"] == ["welfare_post.vacated"]
    _wait("the slot freed", lambda: read_log(worker, "welfare_post.released"), worker)
    worker.wait_settled()
    assert wang.get(f"/api/welfare-posts/{post_id}").json()["vacant"] == 1
    explained = wang.get(f"/api/persons/{labourer}/explain", params={"purpose": "岗位复核"})
    assert explained.status_code == 200, explained.text
    doc = explained.json()
    # checked twice (the retried request checks again, the same outcome), approved once
    replayed = [(m["event_type"], m["reproduced"]) for m in doc["subsidies"]]
    assert replayed == [("subsidy.checked", True)] * 2 + [("subsidy.approved", True)]
    assert doc["subsidies"][0]["version"] == f"{WEIFANG}@2"
