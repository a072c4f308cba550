"""Inhibition along the region tree, on the real components: a flood flags three counties of
Linyi at level II; the city's alert is sent, the counties' alerts are recorded as
inhibited and nobody is mailed about them."""

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

COUNTIES = ["371302", "371311", "371321"]
LEVELS = """    levels:
      IV: {enter: 1, exit: 1}
      III: {enter: 2, exit: 2}
      II: {enter: 3, exit: 3}
      I: {enter: 4, exit: 4}
"""
RULES = f"""rules:
  - id: disaster-city
    title: 灾区 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {{level: city}}
{LEVELS}  - id: disaster-county
    title: 灾区（县）/ Disaster area (county)
    indicator: disaster_area
    kind: absolute
    scope: {{level: county, within: "371300"}}
{LEVELS}"""


def test_county_alerts_are_inhibited_by_the_city_alert(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, port = mailbox
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "roster.yaml").write_text(
        f"channels: {{smtp: {{host: 127.0.0.1, port: {port}, sender: eams@example.gov.cn}}}}\n"
        "officers:\n  - {id: linyi-a, tier: city, regions: ['371300'], "
        "contacts: {email: linyi-a@example.gov.cn}}\n"
        "policy: {repeat_interval: 1h, escalate_after: 1h}\n"
    )
    worker = worker_factory(
        EAMS_RULES=str(tmp_path / "rules.yaml"),
        EAMS_ROSTER=str(tmp_path / "roster.yaml"),
        EAMS_RISK_INTERVAL="0.3",
    )
    now = dt.datetime.now(SHANGHAI).isoformat()
    flag = {
        "event_id": str(uuid.uuid4()),
        "event_type": "disaster_area.flagged",
        "schema_version": 1,
        "occurred_at": now,
        "recorded_at": now,
        "region": "371300",
        "source": "test",
        "actor": "tester",
        "payload": {
            "disaster_id": "f1",
            "kind": "natural_disaster",
            "severity": "II",
            "regions": COUNTIES,
            "title": "洪涝",
            "period_start": now[:10],
        },
    }
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([flag]))

    deadline = time.monotonic() + 30
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        alerts = worker.api.get("/api/alerts").json()
        if len(alerts) == 4 and sum(a["status"] == "inhibited" for a in alerts) == 3:
            break
        time.sleep(0.2)
    by_region = {a["region"]: a for a in alerts}
    assert by_region["371300"]["status"] == "firing" and by_region["371300"]["level"] == "II"
    assert {by_region[c]["status"] for c in COUNTIES} == {"inhibited"}
    assert by_region["371300"]["report_overdue"] is False
    assert by_region["371300"]["report_due"] is not None

    wait_ticks(worker, "dispatcher", 3)  # every notice decided so far is delivered
    subjects = [m[1] for m in box.messages]
    assert len(subjects) == 1 and "临沂市" in subjects[0]
    county = COUNTIES[0]
    timeline = worker.api.get(f"/api/alerts/{by_region[county]['alert_id']}/timeline").json()
    assert [e["event_type"] for e in timeline] == ["alert.raised", "alert.inhibited"]
