"""The ``eams`` CLI as users run it: help, errors without stack traces, dlq and rebuild."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from fixtures import Worker, closed_port
from helpers import T0, encode, produce

from events.identity import make_national_id

GOOD_ID = make_national_id("370202", dt.date(1992, 3, 4), 7)
BAD_ID = GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1")


def eams(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "eams.cli", *args], env=dict(os.environ, **(env or {})),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_help_teaches_the_commands() -> None:
    done = eams("--help")
    assert done.returncode == 0
    for command in ("demo", "run", "import", "simulate", "dlq", "rebuild", "kafka"):
        assert command in done.stdout


def test_events_schema_is_json_schema_of_every_type() -> None:
    done = eams("events", "schema")
    assert done.returncode == 0, done.stderr
    schema = orjson.loads(done.stdout)
    text = done.stdout
    assert schema["$schema"].startswith("https://json-schema.org/draft/2020-12")
    assert "layoff.reported" in text and "disaster_area.flagged" in text


def test_errors_are_one_clear_line_without_a_traceback(tmp_path: Path) -> None:
    with closed_port() as port:
        no_worker = eams("status", env={"EAMS_HTTP_PORT": str(port)})
    assert no_worker.returncode == 2
    assert "eams run" in no_worker.stderr and "Traceback" not in no_worker.stderr
    # port 0 (any free one) and no worker has written <state dir>/api.port
    no_port = eams("status", env={"EAMS_HTTP_PORT": "0", "EAMS_STATE_DIR": str(tmp_path)})
    assert no_port.returncode == 2 and "eams run" in no_port.stderr

    csv_file = tmp_path / "x.csv"
    csv_file.write_text("a,b\n1,2\n")
    env = {"EAMS_KAFKA_BOOTSTRAP": "127.0.0.1:1"}  # never reached: the check comes first
    missing = eams("import", str(tmp_path / "nope.ndjson"), env=env)
    assert missing.returncode == 2 and "nope.ndjson: no such file" in missing.stderr
    no_mapping = eams("import", str(csv_file), env=env)
    assert no_mapping.returncode == 2 and "--mapping" in no_mapping.stderr
    assert "Traceback" not in missing.stderr + no_mapping.stderr


@pytest.mark.integration
def test_dlq_list_replay_and_rebuild_from_the_cli(worker: Worker, tmp_path: Path) -> None:
    env = worker.env()
    bad = {
        "event_id": str(uuid.uuid4()), "event_type": "person.registered", "schema_version": 1,
        "occurred_at": T0.isoformat(), "recorded_at": T0.isoformat(), "region": "370202",
        "source": "test", "actor": "tester",
        "payload": {"national_id": BAD_ID, "target_group": "rural_surplus_labour",
                    "employment_status": "unemployed"},
    }  # fmt: skip
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([bad]))
    worker.wait_settled()

    listed = eams("dlq", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [entry] = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert entry["field"] == "payload.national_id" and entry["source"] == "test"
    assert BAD_ID not in listed.stdout and "raw" not in entry  # masked, reason included
    assert orjson.loads(entry["raw_masked"])["payload"]["national_id"] == (
        BAD_ID[:6] + "********" + BAD_ID[-4:]
    )
    table = eams("dlq", "list", env=env)
    assert table.returncode == 0 and BAD_ID not in table.stdout

    refused = eams("dlq", "list", "--reveal", env=env)
    assert refused.returncode == 2 and "--actor NAME and --reason WHY" in refused.stderr
    revealed = eams(
        "dlq", "list", "--reveal", "--json", "--actor", "ops-li", "--reason", "fix the ID",
        env=env,
    )  # fmt: skip
    assert revealed.returncode == 0, revealed.stderr
    [clear] = [orjson.loads(line) for line in revealed.stdout.splitlines()]
    assert orjson.loads(clear["raw"]) == bad
    # who looked is in the log: the audit event, with the entry and the reason
    audit = _wait_for_audit(worker)
    assert audit["actor"] == "ops-li" and audit["source"] == "eams.api"
    assert audit["payload"] == {
        "entries": [entry["entry_id"]], "count": 1, "reason": "fix the ID"
    }  # fmt: skip

    fixed = dict(bad, payload=dict(bad["payload"], national_id=GOOD_ID))
    path = tmp_path / "fixed.ndjson"
    path.write_bytes(orjson.dumps(fixed) + b"\n")
    replayed = eams("dlq", "replay", "--file", str(path), "--actor", "ops-li", env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert "1 inputs re-submitted" in replayed.stdout and "1 dead letters purged" in replayed.stdout
    before = worker.wait_settled()
    assert before["events"] == 2  # the replayed person and the audit event
    assert before["events_by_type"]["person.registered"] == 1
    after = eams("dlq", "list", "--json", env=env)
    assert after.returncode == 0 and after.stdout == ""  # purged after the successful replay

    rebuilt = eams("rebuild", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt: 2 events projected" in rebuilt.stdout
    assert worker.wait_settled() == before


def _wait_for_audit(worker: Worker, timeout: float = 30) -> dict[str, Any]:
    """The ``audit.dlq_revealed`` event in the worker's log (read from Kafka)."""
    import asyncio
    import time

    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def read() -> list[dict[str, Any]]:
        kafka = worker.kafka("stream")
        consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            topic = worker.settings.topics.events
            tps = [TopicPartition(topic, p) for p in range(worker.settings.topic_partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            found = await consumer.getmany(*tps, timeout_ms=2000)
            docs = [orjson.loads(r.value or b"{}") for rs in found.values() for r in rs]
            return [d for d in docs if d.get("event_type") == "audit.dlq_revealed"]
        finally:
            await consumer.stop()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        audits = asyncio.run(read())
        if audits:
            [audit] = audits
            return audit
        time.sleep(0.3)
    raise AssertionError("no audit.dlq_revealed event in the log")
