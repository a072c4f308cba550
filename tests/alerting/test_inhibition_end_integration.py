"""Inhibition ends when the parent's alert resolves, on the real broker, worker and SMTP.

t=0     兰山区 (371302) is flagged by disaster A at II: the county's alert fires at II and
        临沂市's alert at II; the county's is recorded as inhibited (its city alerted on the
        same indicator at the same level) and nobody hears of it; disaster B flags the
        county at III too, which changes nothing yet
t=1     disaster A is cleared: the county falls to III at once (it stays firing: disaster B),
        the city's value falls below its only level; after keep-firing (1 s) the city's
        alert resolves
then    the dispatcher's next tick finds nothing covering the county any more:
        ``alert.inhibition_ended`` is appended to the log and the county's alert is sent as
        a firing notice, once
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures import Worker, read_log, wait_ticks
from helpers import encode, event, produce

pytestmark = pytest.mark.integration

LINYI, COUNTY = "371300", "371302"
RULES = f"""rules:
  - id: disaster-city
    title: 灾区 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {{level: city}}
    levels:
      II: {{enter: 3, exit: 3}}
    pending: 0s
    keep_firing: 1s
  - id: disaster-county
    title: 灾区（县）/ Disaster area (county)
    indicator: disaster_area
    kind: absolute
    scope: {{level: county, within: "{LINYI}"}}
    levels:
      III: {{enter: 2, exit: 2}}
      II: {{enter: 3, exit: 3}}
    pending: 0s
    keep_firing: 1h
"""


def _wait(what: str, check: Any, worker: Worker, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{worker.tail()}")


def test_a_county_alert_is_notified_once_its_citys_alert_resolves(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, port = mailbox
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "roster.yaml").write_text(
        f"channels: {{smtp: {{host: 127.0.0.1, port: {port}, sender: eams@example.gov.cn}}}}\n"
        f"officers:\n  - {{id: linyi-a, tier: city, regions: ['{LINYI}'], "
        "contacts: {email: linyi-a@example.gov.cn}}\n"
        "policy: {repeat_interval: 1h, escalate_after: 1h, group_wait: 0s, group_interval: 0s,"
        " notify_province_at: []}\n"
    )
    worker = worker_factory(
        EAMS_RULES=str(tmp_path / "rules.yaml"),
        EAMS_ROSTER=str(tmp_path / "roster.yaml"),
        EAMS_RISK_INTERVAL="0.3",
    )
    topic = worker.settings.topics.ingest_raw
    today = dt.date.today().isoformat()

    def flag(disaster: str, severity: str) -> dict[str, Any]:
        return event("disaster_area.flagged", LINYI, {
            "disaster_id": disaster, "kind": "natural_disaster", "severity": severity,
            "regions": [COUNTY], "title": "洪涝", "period_start": today})  # fmt: skip

    def alerts() -> dict[str, dict[str, Any]]:
        return {a["region"]: a for a in worker.api.get("/api/alerts").json()}

    def inhibited() -> bool:
        got = alerts()
        return got.get(COUNTY, {}).get("status") == "inhibited" and LINYI in got

    produce(worker.kafka("raw"), topic, encode([flag("flood-a", "II")]))
    _wait("the county's alert inhibited by the city's", inhibited, worker)
    # a second, less severe flag on the county changes nothing while the first holds
    produce(worker.kafka("raw"), topic, encode([flag("flood-b", "III")]))
    worker.wait_settled()
    wait_ticks(worker, "evaluator", 3)
    wait_ticks(worker, "dispatcher", 3)
    city, county = alerts()[LINYI], alerts()[COUNTY]
    assert (city["status"], city["level"]) == ("firing", "II")
    assert (county["status"], county["level"]) == ("inhibited", "II")
    assert [COUNTY in m[2] for m in box.messages] == [False]  # only the city's notice
    before = len(box.messages)

    cleared = event("disaster_area.cleared", LINYI, {"disaster_id": "flood-a", "period_end": today})
    produce(worker.kafka("raw"), topic, encode([cleared]))

    def now(alert: dict[str, Any]) -> dict[str, Any]:
        return dict(worker.api.get(f"/api/alerts/{alert['alert_id']}").json())

    _wait("the city's alert resolved", lambda: now(city)["status"] == "resolved", worker)
    _wait("the county's alert firing", lambda: now(county)["status"] == "firing", worker)
    assert now(county)["level"] == "III"

    def county_notices() -> list[tuple[list[str], str, str]]:
        return [m for m in box.messages[before:] if COUNTY in m[2] and "解除" not in m[1]]

    [notice] = _wait("a firing notice for the county", county_notices, worker)
    assert "兰山区" in notice[1] or "兰山区" in notice[2]

    # In the log: the city resolved, then the county's inhibition ended, once.
    wait_ticks(worker, "dispatcher", 5)
    worker.wait_settled()
    log = read_log(worker)
    mine = [e for e in log if e["payload"].get("alert_id") == county["alert_id"]]
    kinds = [e["event_type"] for e in mine if e["event_type"].startswith("alert.")]
    assert kinds == ["alert.raised", "alert.inhibited", "alert.level_changed",
                     "alert.inhibition_ended"]  # fmt: skip
    [resolved] = [
        e for e in log
        if e["event_type"] == "alert.resolved" and e["payload"]["alert_id"] == city["alert_id"]
    ]  # fmt: skip
    [ended] = [e for e in mine if e["event_type"] == "alert.inhibition_ended"]
    assert ended["occurred_at"] >= resolved["occurred_at"]
    sent = [e for e in mine if e["event_type"] == "notification.sent"]
    assert [e["payload"]["recipient"] for e in sent] == ["linyi-a"]  # the one notice
    assert county_notices() == [notice]
