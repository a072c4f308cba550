"""Duty officers' CLI and the rules tooling, against a real worker."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import encode, produce

from events.clock import SHANGHAI

LINYI = "371300"
RULES = """rules:
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
"""


def eams(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI."""
    return subprocess.run(
        [sys.executable, "-m", "eams.cli", *args], env=dict(os.environ, **(env or {})),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_rules_lint_prints_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES.replace("indicator: disaster_area", "indicator: disaster_areas")
                   .replace("II: {enter: 3, exit: 3}", "II: {enter: 3, exit: 5}"))  # fmt: skip
    done = eams("rules", "lint", str(bad))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"{bad}:4:") and "disaster_area" in line for line in lines)
    assert any(line.startswith(f"{bad}:10:") and "exit" in line for line in lines)
    good = eams("rules", "lint", "alerting/rules/default.yaml")
    assert good.returncode == 0, good.stdout + good.stderr


def _event(event_type: str, payload: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
            "occurred_at": at.isoformat(), "recorded_at": at.isoformat(), "region": LINYI,
            "source": "test", "actor": "tester", "payload": payload}  # fmt: skip


@pytest.mark.integration
def test_backtest_list_ack_and_silence_from_the_cli(worker_factory: Any, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    worker = worker_factory(EAMS_RULES=str(rules), EAMS_RISK_INTERVAL="0.3")
    env = worker.env()
    # a minute ago, not a fixed hour: an occurred_at further ahead than the allowed skew is
    # refused at ingest (before 10:00 Shanghai "10:00 today" was hours ahead)
    today = dt.datetime.now(SHANGHAI).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    flagged_on = today - dt.timedelta(days=10)
    flag = _event("disaster_area.flagged", {
        "disaster_id": "old-flood", "kind": "natural_disaster", "severity": "III",
        "regions": ["371302"], "title": "旧洪涝", "period_start": flagged_on.date().isoformat()},
        flagged_on)  # fmt: skip
    clear = _event("disaster_area.cleared", {"disaster_id": "old-flood",
                   "period_end": (today - dt.timedelta(days=4)).date().isoformat()},
                   today - dt.timedelta(days=4))  # fmt: skip
    now_flag = _event("disaster_area.flagged", {
        "disaster_id": "new-flood", "kind": "natural_disaster", "severity": "I",
        "regions": ["371311"], "title": "新洪涝", "period_start": today.date().isoformat()},
        today)  # fmt: skip
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([flag, clear, now_flag]))
    worker.wait_settled()

    start = (today - dt.timedelta(days=12)).date().isoformat()
    done = eams("rules", "backtest", "--from", start, "--to", today.date().isoformat(), env=env)
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stdout.splitlines() if "disaster-city" in ln]
    assert lines[0].startswith(f"{flagged_on.date()}  raised") and " III " in lines[0]
    resolved = (today - dt.timedelta(days=4)).date()
    assert any(ln.startswith(f"{resolved}  resolved") for ln in lines), done.stdout
    assert lines[-1].startswith(f"{today.date()}  raised") and " I " in lines[-1]

    deadline = time.monotonic() + 30
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not rows:
        listed = eams("alerts", "list", "--region", LINYI, "--json", env=env)
        rows = [orjson.loads(x) for x in listed.stdout.splitlines()]
        time.sleep(0.3)
    [alert] = rows
    assert alert["level"] == "I" and alert["status"] == "firing"

    acked = eams("alerts", "ack", alert["alert_id"], "--actor", "linyi-a", "--note", "已处置",
                 env=env)  # fmt: skip
    assert acked.returncode == 0, acked.stderr
    silenced = eams("alerts", "silence", alert["alert_id"], "--actor", "linyi-a",
                    "--minutes", "30", env=env)  # fmt: skip
    assert silenced.returncode == 0 and "silenced until" in silenced.stdout
    shown = eams("alerts", "show", alert["alert_id"], env=env)
    assert "alert.acknowledged" in shown.stdout and "alert.silenced" in shown.stdout
    missing = eams("alerts", "ack", "no-such-alert", "--actor", "x", env=env)
    assert missing.returncode == 2 and "404" in missing.stderr and "Traceback" not in missing.stderr
