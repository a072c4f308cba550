"""The console in headless Chromium (Debian's package, driven by Playwright for Python)
against a real worker on the embedded default with the default rules, during the demo's
seeded scenario, as a timeline:

- the map shows the 16 cities, the table lists them;
- a disaster flag for 临沂市 recolours it without a reload;
- the duty officer acknowledges the alert from the inbox;
- an analyst sees no acknowledge button, and the API answers 403 when one tries;
- the flood proposes the natural-disaster playbook on the board; the incident team
  activates it from the page.

Screenshots are kept in test-artifacts/console/.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import encode, in_thread, produce
from playwright.sync_api import Browser, Page, sync_playwright

from eams.auth import UserStore
from eams.tools.simulator import Scenario, ScenarioConfig
from events.regions import load_reference

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "console"
PASSWORD = "correct horse battery"
DEFAULT_RULES = Path(__file__).parents[2] / "alerting" / "rules" / "default.yaml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _sign_in(browser: Browser, base: str, name: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/console/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#cities tbody tr[data-code]")
    return page


def _send(worker: Any, events: list[dict[str, Any]]) -> None:
    in_thread(produce, worker.kafka("raw"), worker.settings.topics.ingest_raw, encode(events))


def test_map_live_recolour_ack_and_roles(
    worker_factory: Any, tmp_path: Path, browser: Browser
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    worker = worker_factory(EAMS_RULES=str(DEFAULT_RULES), EAMS_RISK_INTERVAL="0.3")
    # The demo's scenario (seeded): baseline activity, then the flood in Linyi.
    scenario = list(Scenario(load_reference("shandong"), ScenarioConfig(seed=7, count=3000)))
    flood = next(i for i, e in enumerate(scenario) if e["event_type"] == "disaster_area.flagged")
    _send(worker, scenario[:flood])
    in_thread(worker.wait_settled)
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("duty-a", "duty_officer", PASSWORD, [])
    users.add_user("analyst-a", "analyst", PASSWORD, [])
    users.add_user("incident-a", "incident_team", PASSWORD, [])
    base = str(worker.api.base_url).rstrip("/")

    duty = _sign_in(browser, base, "duty-a")
    assert duty.locator("#cities tbody tr[data-code]").count() == 16
    regions = duty.evaluate(
        "echarts.getInstanceByDom(document.getElementById('map')).getOption().series[0].data.length"
    )
    assert regions == 16
    duty.wait_for_selector("#live.online")
    before = duty.get_attribute("tr[data-code='371300']", "data-level")
    assert before not in ("II", "I"), before  # no flood yet
    duty.evaluate("window.__no_reload = true")
    duty.screenshot(path=str(ARTIFACTS / "1-overview.png"))

    _send(worker, scenario[flood : flood + 1])  # the flag (severity II)
    began = time.monotonic()
    duty.wait_for_selector(
        "tr[data-code='371300'][data-level='II'], tr[data-code='371300'][data-level='I']",
        timeout=2000,
    )
    took = time.monotonic() - began
    _send(worker, scenario[flood + 1 :])  # the aftermath: layoffs, registrations
    assert duty.evaluate("window.__no_reload") is True  # the same page, not reloaded
    colour = duty.evaluate(
        "echarts.getInstanceByDom(document.getElementById('map')).getOption()"
        ".series[0].data.find(d => d.name === '371300').value"
    )
    assert colour >= 3  # orange (II) or red
    duty.screenshot(path=str(ARTIFACTS / "2-flood-recoloured.png"))
    print(f"recoloured {took:.2f} s after the flag was appended")

    # The alert inbox: the duty officer acknowledges.
    duty.click("#tabs button[data-tab=alerts]")
    row = "#alert-table tbody tr[data-alert^='emergency.city.disaster_area:371300']"
    duty.wait_for_selector(f"{row} button.ack", timeout=15000)
    alert_id = duty.get_attribute(row, "data-alert")
    duty.click(f"{row} button.ack")
    duty.wait_for_selector(f"{row}:not(:has(button.ack))")
    assert worker.api.get(f"/api/alerts/{alert_id}").json()["acknowledged_by"] == "duty-a"
    duty.screenshot(path=str(ARTIFACTS / "3-acknowledged.png"))

    # An analyst: no button, and the API says no.
    analyst = _sign_in(browser, base, "analyst-a")
    analyst.click("#tabs button[data-tab=alerts]")
    analyst.wait_for_selector("#alert-table tbody tr[data-alert]")
    assert analyst.locator("button.ack").count() == 0
    refused = analyst.request.post(f"{base}/api/alerts/{alert_id}/ack", data={})
    assert refused.status == 403
    analyst.click("#lang")
    assert analyst.locator("#tabs button[data-tab=alerts]").inner_text() == "Alerts"
    analyst.screenshot(path=str(ARTIFACTS / "4-analyst-english.png"))

    # The board: the flood proposed the natural-disaster playbook for Linyi; the incident
    # team activates it from the page (the duty officer has no such button).
    duty.click("#tabs button[data-tab=playbooks]")
    duty.wait_for_selector(".run[data-run^='natural_disaster:371300']", timeout=15000)
    assert duty.locator("button.activate").count() == 0
    incident = _sign_in(browser, base, "incident-a")
    incident.click("#tabs button[data-tab=playbooks]")
    incident.click(".run[data-run^='natural_disaster:371300'] button.activate")
    incident.wait_for_selector(
        ".run[data-run^='natural_disaster:371300'] .step[data-step='assess']"
    )
    run_id = incident.get_attribute(".run[data-run^='natural_disaster:371300']", "data-run")
    state = worker.api.get(f"/api/playbook-runs/{run_id}").json()
    assert state["status"] == "active"
    incident.screenshot(path=str(ARTIFACTS / "5-playbook-activated.png"))
