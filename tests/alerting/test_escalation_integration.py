"""Escalation to province duty, on the real broker, worker and SMTP server.

t=0     a worker without a roster: a level-III alert fires for 济南市 and the duty officer
        acknowledges it (nobody could be told: no roster yet)
t=1     the worker restarts with a roster whose policy escalates after 2 s; level III does
        not reach province duty at once (only I and II do)
t=2     临沂市 is flagged at III: its city officer gets the firing e-mail at once
t+2 s   nobody acknowledged it: ``alert.escalated`` (to province duty) is in the log and
        province duty gets the escalation e-mail
then    N more dispatcher ticks: the acknowledged Jinan alert, long past 2 s, never
        escalates; nothing is escalated or mailed twice
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

LINYI, JINAN = "371300", "370100"
RULES = """rules:
  - id: disaster-city
    title: 灾区状态 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      III: {enter: 2, exit: 2}
      II: {enter: 3, exit: 3}
    pending: 0s
    keep_firing: 1h
"""


def _flag(disaster_id: str, city: str, county: str) -> dict[str, Any]:
    return event("disaster_area.flagged", city, {
        "disaster_id": disaster_id, "kind": "natural_disaster", "severity": "III",
        "regions": [county], "title": "洪涝",
        "period_start": dt.date.today().isoformat()})  # fmt: skip


def _wait(what: str, check: Any, worker: Worker, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{worker.tail()}")


def _alert(worker: Worker, region: str) -> dict[str, Any] | None:
    found = [a for a in worker.api.get("/api/alerts").json() if a["region"] == region]
    return found[0] if found else None


def test_an_unacknowledged_alert_escalates_to_province_duty_and_an_acknowledged_one_never(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, port = mailbox
    (tmp_path / "rules.yaml").write_text(RULES)
    env = {"EAMS_RULES": str(tmp_path / "rules.yaml"), "EAMS_RISK_INTERVAL": "0.3"}
    first = worker_factory(**env)
    topic = first.settings.topics.ingest_raw
    produce(first.kafka("raw"), topic, encode([_flag("f-jinan", JINAN, "370102")]))
    jinan = _wait("the Jinan alert", lambda: _alert(first, JINAN), first)
    acked = first.api.post(f"/api/alerts/{jinan['alert_id']}/ack", json={"actor": "jinan-a"})
    assert acked.status_code == 200, acked.text
    _wait("acknowledged", lambda: _alert(first, JINAN)["status"] == "acknowledged", first)
    first.stop()

    (tmp_path / "roster.yaml").write_text(
        f"channels: {{smtp: {{host: 127.0.0.1, port: {port}, sender: eams@example.gov.cn}}}}\n"
        "officers:\n"
        f"  - {{id: linyi-a, tier: city, regions: ['{LINYI}'], "
        "contacts: {email: linyi-a@example.gov.cn}}\n"
        f"  - {{id: jinan-a, tier: city, regions: ['{JINAN}'], "
        "contacts: {email: jinan-a@example.gov.cn}}\n"
        "  - {id: province-a, tier: province, regions: ['370000'], "
        "contacts: {email: province-a@example.gov.cn}}\n"
        "policy: {escalate_after: 2s, repeat_interval: 1h, group_wait: 0s, group_interval: 0s}\n"
    )
    worker = worker_factory(like=first, EAMS_ROSTER=str(tmp_path / "roster.yaml"))
    produce(worker.kafka("raw"), topic, encode([_flag("f-linyi", LINYI, "371302")]))

    def mail(to: str, tag: str = "") -> list[tuple[list[str], str, str]]:
        return [m for m in box.messages if f"{to}@example.gov.cn" in m[0] and tag in m[1]]

    [firing] = _wait("the Linyi firing e-mail", lambda: mail("linyi-a"), worker)
    firing_at = box.arrived[box.messages.index(firing)]
    assert "升级" not in firing[1] and not mail("province-a")  # III: not province at once
    [escalation] = _wait("the escalation e-mail", lambda: mail("province-a", "升级"), worker)
    assert "临沂市" in escalation[1] and "超时无人确认" in escalation[2]
    assert box.arrived[box.messages.index(escalation)] > firing_at

    linyi = _alert(worker, LINYI)
    assert linyi is not None and linyi["status"] == "firing"
    # The mail goes first; the alert's single writer then decides the escalation, a moment
    # later: wait for its event in the log.
    escalated = _wait("alert.escalated", lambda: read_log(worker, "alert.escalated"), worker)
    assert [e["payload"]["alert_id"] for e in escalated] == [linyi["alert_id"]]
    assert escalated[0]["payload"]["to_role"] == "province_duty"
    assert escalated[0]["payload"]["to_officer"] == "province-a"
    # decided by the alert's single writer: the event names the command it came from
    assert escalated[0]["causation_id"] and escalated[0]["source"] == "eams.alerting"
    # escalate_after counts from when the alert was raised (the firing e-mail may be late by
    # a delivery, so its arrival is not the clock): the log holds both moments
    [raised] = [e for e in read_log(worker, "alert.raised")
                if e["payload"]["alert_id"] == linyi["alert_id"]]  # fmt: skip
    waited = dt.datetime.fromisoformat(escalated[0]["occurred_at"]) - dt.datetime.fromisoformat(
        raised["occurred_at"]
    )
    assert waited >= dt.timedelta(seconds=2), waited

    # Many more ticks, each long past escalate_after for both alerts: the acknowledged one
    # never escalates, the escalated one is not escalated (or mailed) again.
    wait_ticks(worker, "dispatcher", 10)
    worker.wait_settled()
    escalated = read_log(worker, "alert.escalated")
    assert [e["payload"]["alert_id"] for e in escalated] == [linyi["alert_id"]]
    assert mail("province-a") == [escalation]
    assert not mail("jinan-a")  # acknowledged before the roster: nothing to tell
    timeline = worker.api.get(f"/api/alerts/{jinan['alert_id']}/timeline").json()
    assert [e["event_type"] for e in timeline] == ["alert.raised", "alert.acknowledged"]
    sent = read_log(worker, "notification.sent")
    assert sorted(e["payload"]["recipient"] for e in sent) == ["linyi-a", "province-a"]
