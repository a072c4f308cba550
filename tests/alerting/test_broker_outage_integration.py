"""The broker dies while an alert is being raised: no alert is lost, none is doubled.

This module runs its own broker (the project's LocalKafka on its own ports and state
dir), since it kills it; the session's broker serves every other test.

t=0     a flag is ingested and projected: the evaluator sees 临沂市 at II and the rule's
        pending period (5 s) starts
t+0     the broker is SIGKILLed
t+5 s   the alert is decided; its ``alert.raised`` cannot reach the log: the evaluator
        holds its state, logs the failure at error level and counts it (``/api/status``
        and ``eams status`` show ``flush_failures``, ``pending_events``, the error)
then    the broker is started again on its data: the held event goes out, and only then is
        the alert raised in memory and handed to the dispatcher
end     the log has exactly one ``alert.raised`` for the condition, and one
        ``notification.sent`` per recipient; each duty officer got one e-mail

Run once per path of alerting: the disaster rule judged by the stream evaluator (the
default) and by the projection evaluator (``EAMS_ALERT_STREAM=0``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures import TestBroker, Worker, read_log, start_local_broker, wait_ticks
from helpers import encode, event, produce

from eams.broker import LocalKafka

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

LINYI = "371300"
RULES = """rules:
  - id: disaster-city
    title: 灾区状态 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      II: {enter: 3, exit: 3}
    pending: 5s
    keep_firing: 1h
"""


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalKafka, TestBroker]]:
    """A broker of this module only: it is killed and restarted."""
    settings, broker = start_local_broker(tmp_path_factory.mktemp("outage-kafka"))
    try:
        yield broker, TestBroker(settings.kafka_env())
    finally:
        broker.stop()


def _kill(broker: LocalKafka) -> None:
    pid = broker.pid()
    assert pid is not None, "the broker is not running"
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # our child: reap it, or it lingers as a zombie
    deadline = time.monotonic() + 30
    while broker.accepting():
        assert time.monotonic() < deadline, "the killed broker still accepts connections"
        time.sleep(0.1)


def _wait(what: str, check: Any, worker: Worker, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{worker.tail(60)}")


@pytest.mark.parametrize(
    ("path", "env"),
    [("stream", {}), ("evaluator", {"EAMS_ALERT_STREAM": "0"})],
    ids=["stream", "projection"],
)
def test_an_alert_raised_while_the_broker_is_down_is_appended_once_and_notified_once(
    own_broker: tuple[LocalKafka, TestBroker],
    mailbox: tuple[Any, int],
    tmp_path: Path,
    path: str,
    env: dict[str, str],
) -> None:
    broker, test_broker = own_broker
    box, port = mailbox
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "roster.yaml").write_text(
        f"channels: {{smtp: {{host: 127.0.0.1, port: {port}, sender: eams@example.gov.cn}}}}\n"
        "officers:\n"
        f"  - {{id: linyi-a, tier: city, regions: ['{LINYI}'], "
        "contacts: {email: linyi-a@example.gov.cn}}\n"
        "  - {id: province-a, tier: province, regions: ['370000'], "
        "contacts: {email: province-a@example.gov.cn}}\n"
        "policy: {repeat_interval: 1h, escalate_after: 1h, group_wait: 0s}\n"
    )
    worker = Worker(
        test_broker,
        tmp_path / "worker",
        f"outage-{uuid.uuid4().hex[:6]}",
        EAMS_RULES=str(tmp_path / "rules.yaml"),
        EAMS_ROSTER=str(tmp_path / "roster.yaml"),
        EAMS_RISK_INTERVAL="0.3",
        **env,
    ).start()
    try:
        flag = event("disaster_area.flagged", LINYI, {
            "disaster_id": "flood-1", "kind": "natural_disaster", "severity": "II",
            "regions": ["371302"], "title": "洪涝",
            "period_start": dt.date.today().isoformat()})  # fmt: skip
        produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([flag]))

        def seen() -> bool:  # the evaluator evaluated the flag: the pending period runs
            values = worker.api.get("/api/indicators", params={"region": LINYI}).json()
            return bool(values.get("disaster_area") == 3)

        _wait("the flag evaluated", seen, worker)
        _kill(broker)

        def failing() -> dict[str, Any] | None:
            part: dict[str, Any] = worker.status()["alerting"][path]
            return part if part["flush_failures"] and part["pending_events"] else None

        held = _wait(f"the {path}'s flush failure", failing, worker)
        assert held["last_flush_error"] and held["pending_events"] == 1
        assert worker.api.get("/api/alerts").json() == []  # nothing raised yet
        assert "events not acknowledged by the broker" in worker.log.read_text()
        status = subprocess.run(
            [sys.executable, "-m", "eams.cli", "status"],
            env=worker.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert '"flush_failures"' in status.stdout
        assert f"warning: {path}: 1 events wait for the broker" in status.stderr
        assert box.messages == []

        broker.start()

        [alert] = _wait("the alert", lambda: worker.api.get("/api/alerts").json(), worker)
        assert alert["level"] == "II" and alert["status"] == "firing"
        _wait("both e-mails", lambda: len(box.messages) >= 2, worker)
        wait_ticks(worker, "evaluator", 3)
        wait_ticks(worker, "dispatcher", 3)
        worker.wait_settled()

        raised = read_log(worker, "alert.raised")
        assert [(e["payload"]["rule"], e["region"]) for e in raised] == [("disaster-city", LINYI)]
        assert raised[0]["payload"]["alert_id"] == alert["alert_id"]
        sent = read_log(worker, "notification.sent")
        assert Counter(e["payload"]["recipient"] for e in sent) == {"linyi-a": 1, "province-a": 1}
        assert Counter(to for m in box.messages for to in m[0]) == {
            "linyi-a@example.gov.cn": 1,
            "province-a@example.gov.cn": 1,
        }
        after = worker.status()["alerting"][path]
        assert after["pending_events"] == 0 and after["flush_failures"] >= 1
    finally:
        worker.stop()
        worker.api.close()
