"""Two command-handler processes, one writer per aggregate, on the real broker.

t=0    ``eams run`` (every role) and ``eams run --role commands`` share the partitions of
       ``<ns>.commands`` in one consumer group: each process owns some
t+…    eight alerts are raised through the command bus; each alert is acknowledged twice
       at once, once through the worker's HTTP API and once by a second sender: exactly
       one acknowledgement of each alert wins, the other is told who was first, whichever
       process owns the alert's partition
then   the ``--role commands`` process is SIGKILLed; the worker's handler takes its
       partitions over, folds their alerts from the log, and refuses a third
       acknowledgement of every alert naming the first one: nothing was lost, nothing doubled
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fixtures import Worker, read_log
from helpers import group_members, wait_for

from events.commands import Outcome
from streams.commands import CommandBus
from streams.partitioning import partition_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ALERTS = [f"job_loss_rate:3713{n:02d}:20260701T090000" for n in range(1, 9)]


def _raise(alert_id: str) -> dict[str, Any]:
    region = alert_id.split(":")[1]
    return {
        "rule": "job_loss_rate",
        "region": region,
        "level": "III",
        "summary": f"{region} 失业率上升",
        "value": 5.0,
        "threshold": 4.0,
        "at": "2026-07-01T09:00:00+08:00",
    }


@pytest.fixture
def handler_process(worker: Worker) -> Iterator[subprocess.Popen[bytes]]:
    """``eams run --role commands`` beside the worker, with the worker's environment."""
    log = (worker.state_dir / "commands.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "eams.cli", "run", "--role", "commands"],
        env=worker.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        log.close()


def test_two_handler_processes_one_winner_per_alert_and_a_takeover(
    worker: Worker, handler_process: subprocess.Popen[bytes]
) -> None:
    worker.authorize()
    settings = worker.settings
    group, topic = f"{worker.namespace}.commands", settings.topics.commands
    access = worker.kafka("stream")

    def members() -> dict[str, set[int]] | None:
        state, owned = asyncio.run(group_members(worker.kafka("admin"), group, topic))
        return owned if state == "Stable" and len(owned) == 2 and all(owned.values()) else None

    owned = wait_for(members, "two handlers, each owning partitions", timeout=90)
    mine = f"-{handler_process.pid}"
    theirs = next(parts for client, parts in owned.items() if client.endswith(mine))
    by_alert = {a: partition_for(a.encode(), settings.topic_partitions) for a in ALERTS}
    # the alerts' partitions belong to both processes (otherwise the test proves less)
    assert {p in theirs for p in by_alert.values()} == {True, False}

    async def race() -> list[tuple[Outcome, int]]:
        bus = CommandBus(access, settings.topics, source="test.second-sender")
        await bus.start()
        try:
            for alert in ALERTS:
                await bus.submit(
                    bus.command("alert.raise", alert, actor="eams.alerting", payload=_raise(alert))
                )

            async def through_api(alert: str) -> int:
                answer = await asyncio.to_thread(
                    worker.api.post,
                    f"/api/alerts/{alert}/ack",
                    json={"actor": "duty-api", "note": "API"},
                )
                return answer.status_code

            sent = [bus.send(bus.command("alert.acknowledge", a, actor="duty-bus")) for a in ALERTS]
            api = [through_api(a) for a in ALERTS]
            outcomes = await asyncio.gather(*sent)
            codes = await asyncio.gather(*api)
            return list(zip(outcomes, codes, strict=True))
        finally:
            await bus.stop()

    results = asyncio.run(race())
    for alert, (outcome, code) in zip(ALERTS, results, strict=True):
        assert outcome.accepted != (code == 200), (alert, outcome, code)  # exactly one won
        assert code in (200, 409)
        if not outcome.accepted:
            assert "already acknowledged by duty-api" in (outcome.reason or "")
    acks = read_log(worker, "alert.acknowledged")
    assert Counter(e["aggregate_id"] for e in acks) == Counter(ALERTS)  # one each
    first = {e["aggregate_id"]: e["actor"] for e in acks}

    # SIGKILL the --role commands process: its partitions move to the worker's handler,
    # which folds their alerts from the log before it decides anything on them.
    os.kill(handler_process.pid, signal.SIGKILL)
    handler_process.wait(timeout=30)

    def alone() -> dict[str, set[int]] | None:
        state, owned = asyncio.run(group_members(worker.kafka("admin"), group, topic))
        parts = set().union(*owned.values()) if owned else set()
        return owned if state == "Stable" and len(owned) == 1 and len(parts) == 3 else None

    wait_for(alone, "the worker's handler owning every partition", timeout=90)

    async def again() -> list[Outcome]:
        bus = CommandBus(access, settings.topics, source="test.third-sender")
        await bus.start()
        try:
            return list(
                await asyncio.gather(
                    *(
                        bus.send(bus.command("alert.acknowledge", a, actor="duty-late"))
                        for a in ALERTS
                    )
                )
            )
        finally:
            await bus.stop()

    for alert, outcome in zip(ALERTS, asyncio.run(again()), strict=True):
        assert not outcome.accepted and outcome.code == "conflict"
        assert f"already acknowledged by {first[alert]}" in (outcome.reason or "")
    assert len(read_log(worker, "alert.acknowledged")) == len(ALERTS)
