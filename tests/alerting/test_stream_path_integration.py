"""The stream path on the real broker, chDB and SMTP server, as a timeline.

t=0      Yinan (county) flagged a disaster area: one alert of the county rule, judged by
         the stream evaluator (the projection evaluator judges no rule), one e-mail
restart  the worker is SIGKILLed and started again: the stream evaluator restores from the
         log; after it and the dispatcher evaluated again, still one alert, one e-mail, one
         ``alert.raised`` in the log
down     the worker is SIGKILLed; the flag is cleared while nothing runs
restart  the clear is read after the restore: the alert resolves once, one resolved e-mail
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fixtures import Worker, read_log, wait_ticks
from helpers import encode, produce

from events.clock import SHANGHAI

pytestmark = pytest.mark.integration

YINAN = "371321"
RULE = "stream-disaster-county"
RULES = f"""
rules:
  - id: {RULE}
    title: 受灾地区 / Disaster area (county)
    indicator: disaster_area
    kind: absolute
    scope: {{level: county}}
    levels:
      IV: {{enter: 1, exit: 1}}
      II: {{enter: 3, exit: 3}}
"""


def _event(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    at = dt.datetime.now(SHANGHAI).isoformat()
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at,
        "recorded_at": at,
        "region": "371300",
        "source": "test",
        "actor": "tester",
        "payload": payload,
    }


def _wait(what: str, check: Any, worker: Worker, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{worker.tail()}")


def _alerts(worker: Worker) -> list[dict[str, Any]]:
    return [a for a in worker.api.get("/api/alerts").json() if a["rule"] == RULE]


def _settled_alerting(worker: Worker) -> None:
    """Both evaluators and the dispatcher evaluated 3 more times after the restore, and
    every event is projected: whatever they were going to decide is decided and visible."""
    _wait("the stream evaluator restored", lambda: _part(worker, "stream")["ready"], worker)
    wait_ticks(worker, "evaluator", 3)  # the stream evaluator's ticks too
    wait_ticks(worker, "dispatcher", 3)
    worker.wait_settled()


def _part(worker: Worker, name: str) -> dict[str, Any]:
    part: dict[str, Any] = worker.status()["alerting"][name]
    return part


def test_a_flag_alerts_once_through_the_stream_across_restarts(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, smtp_port = mailbox
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    roster = tmp_path / "roster.yaml"
    roster.write_text(f"""
channels:
  smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: eams@hrss.example.gov.cn}}
officers:
  - {{id: province-a, name: 省值班甲, tier: province, regions: ["370000"],
      contacts: {{email: province-a@example.gov.cn}}}}
policy: {{repeat_interval: 1d, escalate_after: 1d, group_wait: 0s, group_interval: 0s}}
""")
    env = {"EAMS_RULES": str(rules), "EAMS_ROSTER": str(roster), "EAMS_RISK_INTERVAL": "0.3"}
    worker = worker_factory(**env)
    topic = worker.settings.topics.ingest_raw
    # The rule is the stream path's: the projection evaluator judges nothing.
    assert _part(worker, "stream")["rules"] == 1 and _part(worker, "evaluator")["rules"] == 0

    flag = _event(
        "disaster_area.flagged",
        {
            "disaster_id": "flood-s",
            "kind": "natural_disaster",
            "severity": "II",
            "regions": [YINAN],
            "title": "沂南县洪涝",
            "period_start": dt.date.today().isoformat(),
        },
    )
    produce(worker.kafka("raw"), topic, encode([flag]))

    def firing_mail() -> list[tuple[list[str], str, str]]:
        return [m for m in box.messages if "沂南" in m[1] and "解除" not in m[1]]

    alerts = _wait("the alert", lambda: _alerts(worker), worker)
    assert [(a["region"], a["level"], a["status"]) for a in alerts] == [(YINAN, "II", "firing")]
    alert_id = alerts[0]["alert_id"]
    _wait("the firing e-mail", firing_mail, worker)

    # SIGKILL and restart: restored from the log, nothing raised or sent twice.
    worker.kill()
    restarted = worker_factory(like=worker)
    _settled_alerting(restarted)
    assert _part(restarted, "stream")["restored"] == 1
    assert [a["alert_id"] for a in _alerts(restarted)] == [alert_id]
    assert len(firing_mail()) == 1
    raised = [e for e in read_log(restarted, "alert.raised") if e["payload"]["rule"] == RULE]
    assert [e["payload"]["alert_id"] for e in raised] == [alert_id]

    # Down while the flag is cleared: the clear is not lost, it resolves the same alert.
    restarted.kill()
    cleared = _event(
        "disaster_area.cleared",
        {"disaster_id": "flood-s", "regions": [YINAN], "period_end": dt.date.today().isoformat()},
    )
    produce(restarted.kafka("raw"), topic, encode([cleared]))
    again = worker_factory(like=restarted)
    _wait(
        "resolved",
        lambda: again.api.get(f"/api/alerts/{alert_id}").json().get("status") == "resolved",
        again,
    )
    _wait("the resolved e-mail", lambda: [m for m in box.messages if "解除" in m[1]], again)
    _settled_alerting(again)
    assert len(firing_mail()) == 1
    assert len([m for m in box.messages if "解除" in m[1]]) == 1
    log = [e for e in read_log(again, "alert.raised", "alert.resolved")
           if e["payload"]["alert_id"].startswith(RULE)]  # fmt: skip
    assert [(e["event_type"], e["payload"]["alert_id"]) for e in log] == [
        ("alert.raised", alert_id),
        ("alert.resolved", alert_id),
    ]
    assert not _alerts(again)  # no open alert of the rule is left
