"""A flood and a layoff wave, as a timeline, on the real broker, chDB, SMTP server and robot.

t=0     baseline, then Linyi's counties flagged severity II and layoffs there
t<10s   the disaster rule fires at II for 临沂市: city and province duty get one e-mail
        each, the city robot one message; the people-laid-off rule fires too
t+      a reminder round arrives (repeat interval 2 s) while unacknowledged
        the worker is SIGKILLed and restarted: no second alert, no repeated message
ack     the duty officer acknowledges: no more reminders
clear   the flag is cleared: the alert resolves after keep-firing (2 s) and a resolved
        message goes out
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from fixtures import Worker, wait_ticks
from helpers import encode, produce

from events.clock import SHANGHAI

pytestmark = pytest.mark.integration

LINYI = "371300"
FLOODED = ["371302", "371311", "371321"]

RULES = """
rules:
  - id: disaster-city
    title: 灾区状态 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
      III: {enter: 2, exit: 2}
      II: {enter: 3, exit: 3}
      I: {enter: 4, exit: 4}
    pending: 0s
    keep_firing: 2s
  - id: layoffs-city
    title: 裁员人数 / People laid off
    indicator: people_laid_off_7d
    kind: absolute
    scope: {level: city}
    levels:
      III: {enter: 500, exit: 400}
      II: {enter: 1000, exit: 800}
    pending: 0s
    keep_firing: 2s
"""


def _event(event_type: str, region: str, payload: dict[str, Any], **kw: Any) -> dict[str, Any]:
    at = dt.datetime.now(SHANGHAI).isoformat()
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": kw.get("schema_version", 1),
        "occurred_at": at,
        "recorded_at": at,
        "region": region,
        "source": "test",
        "actor": "tester",
        "payload": payload,
    }


def _wait(what: str, check: Any, timeout: float = 30, worker: Worker | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{worker.tail()}" if worker else ""))


def test_flood_alert_notify_restart_ack_and_resolve(
    worker_factory: Any,
    mailbox: tuple[Any, int],
    robot: tuple[list[Any], int],
    tmp_path: Path,
) -> None:
    box, smtp_port = mailbox
    robot_posts, robot_port = robot
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    roster = tmp_path / "roster.yaml"
    roster.write_text(f"""
channels:
  smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: eams@hrss.example.gov.cn}}
  wecom: {{linyi-duty: {{url: "http://127.0.0.1:{robot_port}/cgi-bin/webhook/send?key=k"}}}}
officers:
  - {{id: linyi-a, name: 临沂值班甲, tier: city, regions: ["{LINYI}"],
      contacts: {{email: linyi-a@example.gov.cn, wecom: linyi-duty}}}}
  - {{id: province-a, name: 省值班甲, tier: province, regions: ["370000"],
      contacts: {{email: province-a@example.gov.cn}}}}
  - {{id: jinan-a, name: 济南值班甲, tier: city, regions: ["370100"],
      contacts: {{email: jinan-a@example.gov.cn}}}}
policy: {{repeat_interval: 2s, group_interval: 1s, escalate_after: 1h, link_base: "http://console/alerts/"}}
""")
    env = {"EAMS_RULES": str(rules), "EAMS_ROSTER": str(roster), "EAMS_RISK_INTERVAL": "0.3"}
    worker = worker_factory(**env)
    topic = worker.settings.topics.ingest_raw

    flag = _event(
        "disaster_area.flagged",
        LINYI,
        {
            "disaster_id": "flood-1",
            "kind": "natural_disaster",
            "severity": "II",
            "regions": FLOODED,
            "title": "临沂市洪涝灾害",
            "period_start": dt.date.today().isoformat(),
        },
    )
    layoffs = [
        _event(
            "layoff.reported",
            FLOODED[i % 3],
            {"enterprise_name": f"临沂企业{i}", "headcount_before": 600, "laid_off": 150},
            schema_version=2,
        )
        for i in range(6)
    ]  # 900 people: level III of the layoff rule
    produce(worker.kafka("raw"), topic, encode([flag, *layoffs]))

    # The disaster alert fires at II for Linyi within seconds.
    def linyi_alerts() -> list[dict[str, Any]]:
        return [a for a in worker.api.get("/api/alerts").json() if a["region"] == LINYI]

    alerts = _wait(
        "two Linyi alerts", lambda: len(linyi_alerts()) == 2 and linyi_alerts(), worker=worker
    )
    disaster = next(a for a in alerts if a["rule"] == "disaster-city")
    assert disaster["level"] == "II" and disaster["status"] == "firing"
    layoff = next(a for a in alerts if a["rule"] == "layoffs-city")
    assert layoff["level"] == "III" and layoff["value"] == 900

    # City duty and province duty (level II) each get the firing e-mail; Jinan does not.
    def firing_mail(to: str) -> list[tuple[list[str], str, str]]:
        return [m for m in box.messages if to in m[0] and "灾区" in m[1] and "解除" not in m[1]]

    _wait(
        "firing e-mails",
        lambda: firing_mail("linyi-a@example.gov.cn") and firing_mail("province-a@example.gov.cn"),
    )
    assert not [m for m in box.messages if "jinan-a@example.gov.cn" in m[0]]
    subject = firing_mail("linyi-a@example.gov.cn")[0][1]
    assert "II" in subject and "临沂市" in subject and "橙色" in subject
    _wait("robot message", lambda: any("临沂" in p["markdown"]["content"] for p in robot_posts))

    # Reminders while unacknowledged.
    _wait("a reminder", lambda: len(firing_mail("linyi-a@example.gov.cn")) >= 2, timeout=15)

    # SIGKILL and restart: no second alert, no message repeated.
    worker.kill()
    before = list(box.messages)
    restarted = worker_factory(like=worker)
    wait_ticks(restarted, "evaluator", 3)  # evaluated again after the restore
    wait_ticks(restarted, "dispatcher", 3)  # and whatever that decided is delivered
    restarted.wait_settled()
    alerts_after = [a for a in restarted.api.get("/api/alerts").json() if a["region"] == LINYI]
    assert sorted(a["alert_id"] for a in alerts_after) == sorted(a["alert_id"] for a in alerts)
    # The first (firing) message went out once per recipient, before and after the restart;
    # reminders go on in new rounds, and no notification id was ever delivered twice.
    for to in ("linyi-a@example.gov.cn", "province-a@example.gov.cn"):
        assert len([m for m in firing_mail(to) if "提醒" not in m[1]]) == 1
    assert len(before) >= 4
    timeline = restarted.api.get(f"/api/alerts/{disaster['alert_id']}/timeline").json()
    sent_ids = [
        orjson.loads(e["payload"])["notification_id"]
        for e in timeline
        if e["event_type"] == "notification.sent"
    ]
    assert sent_ids and len(sent_ids) == len(set(sent_ids))

    # Acknowledge: reminders stop.
    ack = restarted.api.post(
        f"/api/alerts/{disaster['alert_id']}/ack", json={"actor": "linyi-a", "note": "已联系县局"}
    )
    assert ack.status_code == 200
    _wait(
        "acknowledged",
        lambda: (
            restarted.api.get(f"/api/alerts/{disaster['alert_id']}").json()["status"]
            == "acknowledged"
        ),
    )
    wait_ticks(restarted, "dispatcher", 2)  # a reminder decided before the ack has landed
    count = len(firing_mail("linyi-a@example.gov.cn"))
    wait_ticks(restarted, "dispatcher", 15)  # 15 ticks of 0.3 s: two repeat intervals
    assert len(firing_mail("linyi-a@example.gov.cn")) == count

    # Clear the flag: resolved after keep-firing, with a resolved message.
    cleared = _event(
        "disaster_area.cleared",
        LINYI,
        {"disaster_id": "flood-1", "period_end": dt.date.today().isoformat()},
    )
    t_clear = time.monotonic()
    produce(restarted.kafka("raw"), topic, encode([cleared]))
    _wait(
        "resolved",
        lambda: (
            restarted.api.get(f"/api/alerts/{disaster['alert_id']}").json()["status"] == "resolved"
        ),
        worker=restarted,
    )
    assert time.monotonic() - t_clear >= 2.0  # not before the keep-firing period
    _wait("resolved e-mail", lambda: [m for m in box.messages if "解除" in m[1]])

    timeline = restarted.api.get(f"/api/alerts/{disaster['alert_id']}/timeline").json()
    kinds = [e["event_type"] for e in timeline]
    assert kinds[0] == "alert.raised" and "alert.acknowledged" in kinds
    assert kinds.count("alert.raised") == 1 and "alert.resolved" in kinds
    assert "notification.sent" in kinds
