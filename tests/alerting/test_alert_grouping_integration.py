"""Grouping and inhibition by an active playbook, as timelines on the real broker, chDB and
SMTP server.

Grouping (group by city, group wait 0 s, group interval 10 s: long beside the time the
second flags take to be evaluated on a loaded machine, or Linyi's would be due already):
t0      three Linyi counties flagged at once -> ONE e-mail naming all three
t1      a fourth Linyi county and a Jinan county flagged -> Jinan's e-mail at once (a new
        group); Linyi's second e-mail no earlier than 10 s after its first, naming only the
        new county

Playbook inhibition:
t0      a Linyi county flagged at III -> the alert fires, e-mail, reminders every second;
        it proposes the natural-disaster playbook for 临沂市 at III
t1      the incident team activates the run -> alert.inhibited (by the run), no more
        reminders
t2      the run is closed -> alert.inhibition_ended, the alert is notified as firing again
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from fixtures import wait_ticks
from helpers import encode, event, produce

pytestmark = pytest.mark.integration

RULES = """rules:
  - id: disaster-county
    title: 灾区（县）/ Disaster area (county)
    indicator: disaster_area
    kind: absolute
    scope: {level: county}
    levels:
      IV: {enter: 1, exit: 1}
      III: {enter: 2, exit: 2}
      II: {enter: 3, exit: 3}
      I: {enter: 4, exit: 4}
"""


def _flag(disaster_id: str, city: str, counties: list[str], severity: str) -> dict[str, Any]:
    return event("disaster_area.flagged", city, {
        "disaster_id": disaster_id, "kind": "natural_disaster", "severity": severity,
        "regions": counties, "title": "洪涝",
        "period_start": dt.date.today().isoformat()})  # fmt: skip


def _wait(what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _worker(worker_factory: Any, tmp_path: Path, port: int, policy: str, regions: str) -> Any:
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "roster.yaml").write_text(
        f"channels: {{smtp: {{host: 127.0.0.1, port: {port}, sender: eams@example.gov.cn}}}}\n"
        f"officers:\n  - {{id: duty-a, tier: city, regions: {regions}, "
        "contacts: {email: duty-a@example.gov.cn}}\n"
        f"policy: {policy}\n"
    )
    return worker_factory(
        EAMS_RULES=str(tmp_path / "rules.yaml"),
        EAMS_ROSTER=str(tmp_path / "roster.yaml"),
        EAMS_RISK_INTERVAL="0.3",
    )


def test_one_message_per_city_group_and_the_group_interval(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, port = mailbox
    policy = "{repeat_interval: 1h, escalate_after: 1h, group_wait: 0s, group_interval: 10s}"
    worker = _worker(worker_factory, tmp_path, port, policy, "['371300', '370100']")
    topic = worker.settings.topics.ingest_raw
    first = ["371302", "371311", "371321"]
    produce(worker.kafka("raw"), topic, encode([_flag("f1", "371300", first, "IV")]))

    _wait("the first Linyi e-mail", lambda: box.messages)
    wait_ticks(worker, "dispatcher", 2)  # anything else of this evaluation is sent by now
    assert len(box.messages) == 1
    _, subject, body = box.messages[0]
    assert "（另有 2 条）" in subject
    assert all(code in body for code in first)

    more = [_flag("f2", "371300", ["371312"], "IV"), _flag("f3", "370100", ["370102"], "IV")]
    produce(worker.kafka("raw"), topic, encode(more))
    _wait("two more e-mails", lambda: len(box.messages) == 3)
    wait_ticks(worker, "dispatcher", 2)
    assert len(box.messages) == 3
    jinan = next(i for i, m in enumerate(box.messages) if "370102" in m[2])
    linyi = next(i for i, m in enumerate(box.messages[1:], 1) if "371312" in m[2])
    assert "另有" not in box.messages[linyi][1]
    assert not any(code in box.messages[linyi][2] for code in first)  # nothing repeated
    assert box.arrived[linyi] - box.arrived[0] >= 9.5  # held for the group interval
    assert jinan == 1 and box.arrived[jinan] < box.arrived[linyi]  # its own group: at once

    # Every alert of a message has its own notification.sent event (the e-mail leaves
    # before its event is projected: wait until the log is, then read the timelines).
    alerts = worker.api.get("/api/alerts").json()
    assert len(alerts) == 5
    worker.wait_settled()
    for alert in alerts:
        timeline = worker.api.get(f"/api/alerts/{alert['alert_id']}/timeline").json()
        sent = [e for e in timeline if e["event_type"] == "notification.sent"]
        assert len(sent) == 1, (alert["region"], timeline)


def test_an_active_playbook_inhibits_alerts_in_its_area_until_it_closes(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, port = mailbox
    policy = "{repeat_interval: 1s, escalate_after: 1h, group_interval: 0s}"
    worker = _worker(worker_factory, tmp_path, port, policy, "['371300']")
    topic = worker.settings.topics.ingest_raw
    produce(worker.kafka("raw"), topic, encode([_flag("f1", "371300", ["371302"], "III")]))
    _wait("the alert and a reminder", lambda: len(box.messages) >= 2)
    [alert] = worker.api.get("/api/alerts").json()
    assert alert["level"] == "III"

    # The alert proposed the natural-disaster playbook for 临沂市 at III; the incident team
    # activates it (here through the API as the local operator).
    def proposed() -> list[dict[str, Any]]:
        return list(worker.api.get("/api/playbook-runs", params={"status": "proposed"}).json())

    [run] = _wait("the proposed run", proposed)
    assert run["area"] == "371300" and run["level"] == "III"
    run_id = run["run_id"]
    done = worker.api.post(f"/api/playbook-runs/{run_id}/activate", json={"actor": "incident-a"})
    assert done.status_code == 200, done.text

    def status() -> str:
        return str(worker.api.get(f"/api/alerts/{alert['alert_id']}").json()["status"])

    def reminders() -> int:
        return sum("提醒" in m[1] for m in box.messages)

    _wait("inhibited", lambda: status() == "inhibited")
    wait_ticks(worker, "dispatcher", 1)  # a reminder already under way has landed
    held = reminders()
    wait_ticks(worker, "dispatcher", 10)  # 10 ticks of 0.3 s: three reminder periods
    assert reminders() == held, [m[1] for m in box.messages]
    timeline = worker.api.get(f"/api/alerts/{alert['alert_id']}/timeline").json()
    [inhibited] = [e for e in timeline if e["event_type"] == "alert.inhibited"]
    assert orjson.loads(inhibited["payload"])["by_playbook_run"] == run_id

    before = len(box.messages)
    closed = worker.api.post(f"/api/playbook-runs/{run_id}/close", json={
        "actor": "incident-a", "force": True, "reason": "演练结束 / test over"})  # fmt: skip
    assert closed.status_code == 200, closed.text
    _wait("inhibition ended", lambda: status() == "firing")

    def firing_notices() -> list[tuple[list[str], str, str]]:
        return [m for m in box.messages[before:] if "提醒" not in m[1] and "预案" not in m[1]]

    [notice] = _wait("a new firing notice", firing_notices)
    assert "371302" in notice[2]
    timeline = worker.api.get(f"/api/alerts/{alert['alert_id']}/timeline").json()
    kinds = [e["event_type"] for e in timeline if e["event_type"].startswith("alert.")]
    assert kinds == ["alert.raised", "alert.inhibited", "alert.inhibition_ended"]


def test_after_a_restart_a_firing_alert_no_message_reached_is_notified_once(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, port = mailbox
    (tmp_path / "rules.yaml").write_text(RULES)
    # First without a roster: the alert fires and nobody can be told (as if the worker
    # died between appending alert.raised and sending the message).
    worker = worker_factory(EAMS_RULES=str(tmp_path / "rules.yaml"), EAMS_RISK_INTERVAL="0.3")
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw,
            encode([_flag("f1", "371300", ["371302"], "III")]))  # fmt: skip
    _wait("the alert", lambda: worker.api.get("/api/alerts").json())
    worker.kill()

    (tmp_path / "roster.yaml").write_text(
        f"channels: {{smtp: {{host: 127.0.0.1, port: {port}, sender: eams@example.gov.cn}}}}\n"
        "officers:\n  - {id: duty-a, tier: city, regions: ['371300'], "
        "contacts: {email: duty-a@example.gov.cn}}\n"
        "policy: {repeat_interval: 1h, escalate_after: 1h}\n"
    )
    restarted = worker_factory(like=worker, EAMS_ROSTER=str(tmp_path / "roster.yaml"))
    _wait("the catch-up e-mail", lambda: box.messages)
    _, subject, body = box.messages[0]
    assert "提醒" not in subject and "371302" in body
    restarted.stop()
    again = worker_factory(like=worker, EAMS_ROSTER=str(tmp_path / "roster.yaml"))
    wait_ticks(again, "dispatcher", 3)  # a third start must not send it again
    assert len(box.messages) == 1
    assert again.api.get("/api/alerts").json()[0]["status"] == "firing"
