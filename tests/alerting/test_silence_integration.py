"""A silence by matchers on the real components: Linyi is silenced, a flood there raises
an alert but nobody is mailed; ending the silence lets the next reminder through."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fixtures import wait_ticks
from helpers import encode, produce

from events.clock import SHANGHAI

pytestmark = pytest.mark.integration

RULES = """rules:
  - id: disaster-city
    title: 灾区 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
      II: {enter: 3, exit: 3}
"""


def test_silenced_region_gets_no_mail_until_the_silence_ends(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, port = mailbox
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "roster.yaml").write_text(
        f"channels: {{smtp: {{host: 127.0.0.1, port: {port}, sender: eams@example.gov.cn}}}}\n"
        "officers:\n  - {id: linyi-a, tier: city, regions: ['371300'], "
        "contacts: {email: linyi-a@example.gov.cn}}\n"
        "policy: {repeat_interval: 1s, group_interval: 1s, escalate_after: 1h}\n"
    )
    worker = worker_factory(
        EAMS_RULES=str(tmp_path / "rules.yaml"),
        EAMS_ROSTER=str(tmp_path / "roster.yaml"),
        EAMS_RISK_INTERVAL="0.3",
    )
    bad = worker.api.post("/api/silences", json={"actor": "linyi-a", "minutes": 60})
    assert bad.status_code == 422 and "matcher" in bad.json()["detail"]
    made = worker.api.post(
        "/api/silences",
        json={"actor": "linyi-a", "minutes": 60, "region": "371300", "reason": "演练"},
    )
    assert made.status_code == 200
    silence_id = made.json()["silence_id"]
    deadline = time.monotonic() + 10  # the silence is an event: wait until it is projected
    while time.monotonic() < deadline and not worker.api.get("/api/silences").json():
        time.sleep(0.1)
    [listed] = worker.api.get("/api/silences").json()
    assert listed["silence_id"] == silence_id and listed["region"] == "371300"

    now = dt.datetime.now(SHANGHAI).isoformat()
    payload = {"disaster_id": "f1", "kind": "natural_disaster", "severity": "II",
               "regions": ["371302"], "title": "洪涝", "period_start": now[:10]}  # fmt: skip
    flag = {"event_id": str(uuid.uuid4()), "event_type": "disaster_area.flagged",
            "schema_version": 1, "occurred_at": now, "recorded_at": now, "region": "371300",
            "source": "test", "actor": "tester", "payload": payload}  # fmt: skip
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([flag]))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not worker.api.get("/api/alerts").json():
        time.sleep(0.2)
    [alert] = worker.api.get("/api/alerts").json()
    assert alert["level"] == "II" and alert["region"] == "371300"
    wait_ticks(worker, "dispatcher", 10)  # 10 ticks of 0.3 s: three reminder intervals
    assert box.messages == []

    ended = worker.api.delete(f"/api/silences/{silence_id}", params={"actor": "linyi-a"})
    assert ended.status_code == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not box.messages:
        time.sleep(0.2)
    assert box.messages and "临沂市" in box.messages[0][1]
    # the dispatcher heard the end from its command's outcome: the mail may come before the
    # projections show the silence ended, which they do soon after
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and worker.api.get("/api/silences").json():
        time.sleep(0.1)
    assert worker.api.get("/api/silences").json() == []
