"""The case officer's workspace (工作台, issue 12) in headless Chromium (Debian's package,
driven by Playwright for Python) against a real worker (real broker, real embedded
ClickHouse, the default recognition rules and case policy), as a timeline:

- officer zhao of Jinan signs in and lands on the workspace; a mistyped resident ID in the
  registration form shows the API's message naming the field, and nothing is appended;
- zhao registers 王秀英 by the ID from her card: the log holds person.registered for her
  pseudonym and no clear ID, name or phone; the caseload shows her masked, in 历下区, as a
  person with employment difficulties, with her next visit due;
- zhao opens her page giving a purpose (the log holds audit.person_read with it, for the case
  and the timeline): the group with the rule that recognised her, who owns the case, the
  timeline; a read without a purpose is refused;
- a home visit that reached nobody moves the next visit to the retry day; a policy briefing
  and an assistance plan follow, each in the log and on the timeline; in English the same
  page reads in English;
- a civil-affairs lead given to zhao is in the leads to contact; zhao contacts it by phone
  (lead.contacted in the log) and it leaves the list;
- an analyst sees no workspace tab, and the API answers 403 to the caseload.

Screenshots are kept in test-artifacts/console/.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from fixtures import SECRET, read_log
from playwright.sync_api import Browser, Page, expect, sync_playwright

from eams.auth import UserStore
from events.clock import today
from events.identity import make_national_id
from events.privacy import pseudonym

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "console"
PASSWORD = "correct horse battery"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LIXIA, JINAN = "370102", "370100"
NID = make_national_id(LIXIA, dt.date(1981, 5, 6), 24)  # a woman (even 17th digit), 40+
NAME, PHONE = "王秀英", "13912345678"
P = pseudonym(NID, SECRET.encode())
BAD_NID = NID[:17] + ("1" if NID[17] == "0" else "0")  # one wrong check digit
LEAD_NID = make_national_id(LIXIA, dt.date(1975, 3, 4), 13)  # from the civil-affairs roster
LEAD_P = pseudonym(LEAD_NID, SECRET.encode())
T = TypeVar("T")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in another thread: Playwright's sync API owns this thread's event loop,
    and the helpers that read Kafka run their own."""
    results: list[T] = []
    failures: list[BaseException] = []

    def go() -> None:
        try:
            results.append(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            failures.append(exc)

    thread = threading.Thread(target=go)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]
    return results[0]


def _log(worker: Any, *types: str) -> list[dict[str, Any]]:
    """The worker's event log (the topic itself), optionally of some types only."""
    return _in_thread(read_log, worker, *types)


def _sign_in(browser: Browser, base: str, name: str, ready: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(f"{base}/console/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector(ready)
    return page


def _mine(events: list[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [e for e in events if e["aggregate_id"] == P and (not types or e["event_type"] in types)]


def test_officer_registers_opens_visits_and_plans_in_the_browser(
    worker_factory: Any, browser: Browser
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    worker = worker_factory()
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("zhao", "case_officer", PASSWORD, [JINAN])
    users.add_user("analyst-a", "analyst", PASSWORD, [])
    base = str(worker.api.base_url).rstrip("/")
    day = today()

    zhao = _sign_in(browser, base, "zhao", "#workspace:not([hidden]) #caseload")
    assert zhao.locator("#tabs button[data-tab=workspace]").inner_text() == "工作台"
    assert zhao.locator("#tabs button[data-tab=alerts]").is_hidden()  # not a case officer's
    expect(zhao.locator("#live.online")).to_have_text("实时")  # the lists follow the stream

    # A mistyped ID: the API's message, naming the field, next to the form; nothing appended.
    zhao.click("#ws-new")
    form = zhao.locator("#register-form")
    form.get_by_label("身份证号").fill(BAD_NID)
    form.get_by_label("姓名").fill(NAME)
    form.get_by_label("联系电话").fill(PHONE)
    form.get_by_label("所在地区").select_option(LIXIA)
    assert form.get_by_label("所在地区").locator("option:checked").inner_text() == "历下区"
    form.get_by_label("申请类别").select_option("employment_difficulty")
    form.get_by_label("有劳动能力").check()
    form.get_by_label("有就业意愿").check()
    form.locator("button[type=submit]").click()
    error = zhao.locator("#register-error")
    expect(error).to_contain_text("national_id")
    expect(error).to_contain_text(f"expected '{NID[17]}'")
    zhao.screenshot(path=str(ARTIFACTS / "ws-1-bad-id.png"))
    assert not _log(worker, "person.registered")

    # The right ID: registered under her pseudonym, nothing clear in the log.
    form.get_by_label("身份证号").fill(NID)
    form.locator("button[type=submit]").click()
    expect(zhao.locator("#register-done")).to_contain_text(NID[:6] + "********" + NID[-4:])
    assert error.inner_text() == ""
    log = _log(worker)
    registered = _mine(log, "person.registered")
    assert len(registered) == 1 and registered[0]["actor"] == "zhao"
    assert registered[0]["payload"]["name_masked"] == "王**"
    text = "\n".join(orjson.dumps(e).decode() for e in log)
    assert NID not in text and NAME not in text and PHONE not in text
    [scheduled] = _mine(log, "visit.scheduled")
    first_due = scheduled["payload"]["due_on"]

    # The caseload: masked, region by name, group by label, next visit.
    row = zhao.locator(f"#caseload tr[data-person='{P}']")
    expect(row).to_contain_text("王**")
    expect(row).to_contain_text(NID[:6] + "********" + NID[-4:])
    expect(row).to_contain_text("历下区")
    expect(row.locator(".groups")).to_have_text("就业困难人员")
    expect(row.locator(".visit-due")).to_have_text(first_due)
    assert zhao.locator("#ws-count").inner_text() == "(1)"
    zhao.screenshot(path=str(ARTIFACTS / "ws-2-caseload.png"))

    # A person's detail is read for a purpose, and the read is in the log.
    refused = zhao.request.get(f"{base}/api/persons/{P}")
    assert refused.status == 422
    assert not _log(worker, "audit.person_read")
    row.locator("button.open").click()
    zhao.locator("#purpose-form").get_by_label("查阅目的").select_option("常规走访")
    zhao.locator("#purpose-form button[type=submit]").click()
    zhao.wait_for_selector(f"#person[data-person='{P}']")
    reads = _log(worker, "audit.person_read")
    assert sorted(r["payload"]["view"] for r in reads) == ["case", "timeline"]
    assert {(r["actor"], r["payload"]["subject"], r["payload"]["purpose"]) for r in reads} == {
        ("zhao", P, "常规走访")
    }
    person = zhao.locator("#person")
    expect(person.locator("#person-name")).to_have_text("王**")
    recognised = _mine(_log(worker), "person.recognized")[0]["payload"]
    group = person.locator("#person-groups tr[data-group=employment_difficulty]")
    expect(group).to_contain_text("就业困难人员")
    expect(group).to_contain_text(recognised["rule_id"])
    expect(person.locator("#person-owners tbody")).to_contain_text("历下区")
    expect(person.locator("#person-owners tbody")).to_contain_text("zhao")
    labels = {"person.registered": "人员登记", "person.recognized": "援助对象认定",
              "visit.scheduled": "走访排期"}  # fmt: skip
    for event_type, label in labels.items():
        expect(person.locator(f"#person-timeline tr[data-type='{event_type}']")).to_contain_text(
            label
        )
    expect(person.locator("#person-visit-due")).to_have_text(first_due)
    zhao.screenshot(path=str(ARTIFACTS / "ws-3-person.png"))

    # A home visit that reached nobody: tried again within the retry interval.
    visit = zhao.locator("#visit-form")
    visit.get_by_label("走访方式").select_option("home_visit")
    visit.get_by_label("走访结果").select_option("not_reached")
    visit.get_by_label("备注").fill("家中无人，留下联系卡")
    visit.locator("button[type=submit]").click()
    expect(person.locator("#person-timeline tr[data-type='visit.recorded']")).to_contain_text(
        "入户走访"
    )
    log = _log(worker)
    [visited] = _mine(log, "visit.recorded")
    assert visited["payload"]["outcome"] == "not_reached" and visited["actor"] == "zhao"
    assert visited["payload"]["visited_on"] == day.isoformat()
    moved = _mine(log, "visit.scheduled")[-1]["payload"]["due_on"]
    assert moved != first_due and moved == (day + dt.timedelta(days=7)).isoformat()
    expect(person.locator("#person-visit-due")).to_have_text(moved)

    # A policy briefing, then the assistance plan.
    service = zhao.locator("#service-form")
    service.get_by_label("服务项目").select_option("policy_briefing")
    service.locator("button[type=submit]").click()
    expect(person.locator("#person-timeline tr[data-type='service.delivered']")).to_contain_text(
        "政策宣传"
    )
    plan = zhao.locator("#plan-form")
    plan.get_by_label("援助目标（每行一项）").fill("三个月内实现就业\n参加一次招聘会")
    plan.get_by_label("援助措施").select_option("career_guidance")
    plan.get_by_label("完成时限").fill((day + dt.timedelta(days=30)).isoformat())
    plan.locator("button[type=submit]").click()
    expect(person.locator("#person-plan")).to_contain_text("三个月内实现就业")
    expect(person.locator("#person-plan")).to_contain_text("职业指导")
    expect(person.locator("#person-timeline tr[data-type='plan.agreed']")).to_contain_text(
        "签订援助协议"
    )
    [agreed] = _mine(_log(worker), "plan.agreed")
    assert agreed["payload"]["goals"] == ["三个月内实现就业", "参加一次招聘会"]
    assert [(m["measure"], m["kind"], m["owner"]) for m in agreed["payload"]["measures"]] == [
        ("career_guidance", "service", "zhao")
    ]
    assert [e["event_type"] for e in _mine(_log(worker), "service.delivered")] == [
        "service.delivered"
    ]
    # Each thing recorded was followed by one audited read (case and timeline) of the page.
    assert len(_log(worker, "audit.person_read")) == 2 * 4
    expect(plan.locator("h3")).to_have_text("修订援助协议")  # now the plan is revised
    zhao.screenshot(path=str(ARTIFACTS / "ws-4-visited-planned.png"), full_page=True)

    # In English: the same page, relabelled without another read.
    zhao.click("#lang")
    expect(person.locator("#person-timeline tr[data-type='plan.agreed']")).to_contain_text(
        "Assistance plan agreed"
    )
    expect(group).to_contain_text("Persons with employment difficulties")
    assert len(_log(worker, "audit.person_read")) == 2 * 4
    zhao.screenshot(path=str(ARTIFACTS / "ws-5-english.png"), full_page=True)
    zhao.click("#lang")

    # Active discovery: a lead given to zhao, contacted from the list.
    found = zhao.request.post(f"{base}/api/leads", data={"national_id": LEAD_NID, "region": LIXIA,
                              "source": "civil_affairs",
                              "suggested_target_group": "employment_difficulty"})  # fmt: skip
    assert found.status == 201, found.text()
    lead_id = found.json()["lead_id"]
    given = zhao.request.post(f"{base}/api/persons/{LEAD_P}/leads/{lead_id}/assign",
                              data={"office": LIXIA, "officer": "zhao"})  # fmt: skip
    assert given.status == 200, given.text()
    zhao.click("#person .back")
    lead = zhao.locator(f"#leads tr[data-lead='{lead_id}']")
    expect(lead).to_contain_text("民政救助数据")
    expect(lead).to_contain_text("就业困难人员")
    lead.get_by_label("走访方式").select_option("phone")
    lead.locator("button.contact").click()
    expect(lead).to_have_count(0)
    [contacted] = [e for e in _log(worker, "lead.contacted") if e["aggregate_id"] == LEAD_P]
    assert contacted["actor"] == "zhao" and contacted["payload"]["channel"] == "phone"
    assert contacted["payload"]["lead_id"] == lead_id

    # An analyst: no workspace, and the API says no.
    analyst = _sign_in(browser, base, "analyst-a", "#cities tbody tr[data-code]")
    assert analyst.locator("#tabs button[data-tab=workspace]").is_hidden()
    assert analyst.locator("#workspace").is_hidden()
    assert analyst.request.get(f"{base}/api/cases").status == 403
    assert analyst.request.get(f"{base}/api/persons/{P}?purpose=核查").status == 403
    assert len(_log(worker, "audit.person_read")) == 2 * 4  # refused: nothing was read
    analyst.screenshot(path=str(ARTIFACTS / "ws-6-analyst.png"))
