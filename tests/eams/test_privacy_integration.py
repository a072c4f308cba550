"""No clear personal data at rest outside the boundary, end to end on the real components.

Events with national IDs, names and phone numbers go in (some IDs hidden in free text and
identifiers, some inputs rejected to the DLQ); then every topic of the namespace and every
ClickHouse table is read whole and searched for the clear values. Only the raw topic may
hold them, and only within its retention: with a retention of seconds it is shown empty
while the event log keeps every event.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fixtures import Worker
from helpers import encode, event, produce

from events.identity import make_national_id, make_uscc
from streams.pipeline import is_source_type

pytestmark = pytest.mark.integration

RETENTION_HOURS = "0.004"  # 14.4 s: long enough to ingest, short enough to wait for

IDS = [make_national_id("371302", dt.date(1980 + i, 1 + i, 3 + i), 100 + i) for i in range(7)]
TYPO = IDS[6][:17] + ("0" if IDS[6][17] != "0" else "1")  # a rejected ID: wrong checksum
PHONES = ["13912345678", "15066667777", "18653215555"]
NAMES = ["欧阳娜娜", "司马相如"]
CLEAR = [*IDS, TYPO, *PHONES, *NAMES]


def _inputs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(accepted, rejected) inputs carrying every clear value somewhere."""
    person = {"target_group": "employment_difficulty", "employment_status": "unemployed"}
    accepted = [
        event("person.registered", "371302", {"national_id": IDS[0], "name": NAMES[0],
              "phone": PHONES[0], **person}),
        event("visit.recorded", "371302", {"national_id": IDS[1], "channel": "home_visit",
              "visited_on": "2026-06-01", "note": f"其子 {IDS[2]} 待业，电话 {PHONES[1]}",
              "needs": ["housing", f"配偶 {IDS[3]} 需培训"]}),
        event("layoff.reported", "371302", {"enterprise_name": f"个体户 {PHONES[2]}",
              "laid_off": 3, "reason": f"业主 {IDS[4]} 停业"}),
        event("household.zero_employment_identified", "371302",
              {"household_id": IDS[5], "members_of_working_age": 2}),
        event("layoff.reported", "371302",
              {"enterprise_uscc": make_uscc("91371300MA3C00001"), "laid_off": 250}),
    ]  # fmt: skip
    rejected = [
        event("person.registered", "371302", {"national_id": TYPO, "name": NAMES[1], **person}),
        event("person.registered", "999999", {"national_id": IDS[6], "phone": PHONES[0],
              **person}),  # unknown region: rejected with a valid ID inside
    ]  # fmt: skip
    return accepted, rejected


async def _read_topic(worker: Worker, topic: str) -> list[bytes]:
    """Every record of ``topic`` still on the broker: key, value and headers, as bytes."""
    consumer = AIOKafkaConsumer(**worker.kafka("stream").client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(worker.settings.topic_partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: list[bytes] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    found.append(record.key or b"")
                    found.append(record.value or b"")
                    found.extend(k.encode() + b"=" + bytes(v) for k, v in record.headers or ())
        return found
    finally:
        await consumer.stop()


def _clear_in(blobs: list[bytes]) -> set[str]:
    text = b"\n".join(blobs).decode("utf-8", "replace")
    return {c for c in CLEAR if c in text}


_DUMP_TABLES = """
import sys
from projections.client import Store
store = Store(sys.argv[1])
tables = store.rows(
    "SELECT name FROM system.tables WHERE database = currentDatabase() "
    "AND engine NOT IN ('View', 'MaterializedView')"
)
for (name,) in tables:
    # as text: aggregate states (argMax of a name …) keep their strings in the dump
    rows = store.client.raw_query(f"SELECT * FROM `{name}`", fmt="TabSeparated")
    print(name, rows.count(b"\\n"), rows.decode("utf-8", "replace"))
"""


def _dump_tables(worker: Worker) -> str:
    """Every row of every ClickHouse table, as text (in a process of its own: one chDB path
    per process, and the worker that owned it is stopped)."""
    done = subprocess.run(
        [sys.executable, "-c", _DUMP_TABLES, worker.settings.clickhouse_dsn],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _roles_at_the_dlq(worker: Worker) -> None:
    import httpx

    from eams.auth import UserStore

    users = UserStore(worker.state_dir / "users.sqlite")
    password = "correct horse battery"
    users.add_user("auditor-a", "auditor", password, [])
    users.add_user("analyst-a", "analyst", password, [])
    for name, listing, reveal in (("auditor-a", 200, 403), ("analyst-a", 403, 403)):
        with httpx.Client(base_url=str(worker.api.base_url), timeout=30) as client:
            signed = client.post("/api/session", json={"name": name, "password": password})
            assert signed.status_code == 200, signed.text
            assert client.get("/api/dlq").status_code == listing, name
            asked = client.post("/api/dlq/reveal", json={"reason": "curious"})
            assert asked.status_code == reveal, name
            assert _clear_in([asked.content]) == set()
    assert "audit.dlq_revealed" not in worker.counts()["events_by_type"]  # nobody saw


RULES = """
rules:
  - id: layoffs-city
    title: 裁员人数 / People laid off
    indicator: people_laid_off_7d
    kind: absolute
    scope: {level: city}
    levels:
      III: {enter: 100, exit: 50}
    pending: 0s
    keep_firing: 2s
"""


def _alerting(tmp_path: Path, smtp_port: int) -> dict[str, str]:
    """A rule the inputs' layoffs trip and a duty officer with e-mail: so the messages sent
    are searched too."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    roster = tmp_path / "roster.yaml"
    roster.write_text(f"""
channels:
  smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: eams@hrss.example.gov.cn}}
officers:
  - {{id: linyi-a, name: 临沂值班甲, tier: city, regions: ["371300"],
      contacts: {{email: linyi-a@example.gov.cn}}}}
policy: {{repeat_interval: 1h, group_interval: 1s, escalate_after: 1h}}
""")
    return {"EAMS_RULES": str(rules), "EAMS_ROSTER": str(roster), "EAMS_RISK_INTERVAL": "0.3"}


def test_no_clear_national_id_survives_outside_the_raw_topic(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, smtp_port = mailbox
    worker: Worker = worker_factory(
        EAMS_RAW_RETENTION_HOURS=RETENTION_HOURS, **_alerting(tmp_path, smtp_port)
    )
    names = worker.settings.topics
    accepted, rejected = _inputs()
    produce(worker.kafka("raw"), names.ingest_raw, encode(accepted + rejected))
    counts = worker.wait_settled()
    inputs = {t: n for t, n in counts["events_by_type"].items() if is_source_type(t)}
    assert sum(inputs.values()) == len(accepted)  # besides, the alert's own events
    ingest = worker.status()["ingest"]
    assert ingest["rejected"] == len(rejected)
    # found outside the named fields: 2 in the note, 1 in needs, 1 in the enterprise name,
    # 1 in the reason, 1 in the key derived from the name, 1 household id
    assert ingest["masked_values"] == 7

    # the DLQ through the API: masked, and sealed on the broker
    listed = worker.api.get("/api/dlq").raise_for_status().json()
    assert listed["total"] == len(rejected) and listed["unreadable"] == 0
    assert _clear_in([orjson.dumps(listed)]) == set()

    # every message sent to duty officers (the layoffs raise a Linyi alert): nothing in clear
    deadline = time.monotonic() + 60
    while not box.messages and time.monotonic() < deadline:
        time.sleep(0.2)
    assert box.messages, worker.tail()
    sent = [f"{subject}\n{text}".encode() for _to, subject, text in box.messages]
    assert _clear_in(sent) == set()

    # who may look: an auditor lists (masked) but may not reveal, an analyst may not list
    _roles_at_the_dlq(worker)

    # every topic but raw: nothing in clear
    topics = {t: asyncio.run(_read_topic(worker, t)) for t in names.all()}
    for topic in (names.events, names.dlq, names.commands):
        assert _clear_in(topics[topic]) == set(), topic
    assert len([b for b in topics[names.dlq] if b.startswith(b"dl_")]) == len(rejected)
    # raw holds the inputs as they came, for its retention only
    assert _clear_in(topics[names.ingest_raw]) == set(CLEAR)

    worker.stop()
    tables = _dump_tables(worker)
    assert "events " in tables and "persons " in tables  # the projections were read
    # ... whole: the payloads are there, masked
    assert f"{IDS[2][:6]}********{IDS[2][-4:]}" in tables
    assert "150****7777" in tables and "欧阳**" in tables
    assert {c for c in CLEAR if c in tables} == set()
    assert {c for c in CLEAR if c in worker.log.read_text(errors="replace")} == set()

    # after the retention the raw inputs are gone; the log keeps every event
    deadline = time.monotonic() + 120
    while _clear_in(asyncio.run(_read_topic(worker, names.ingest_raw))):
        assert time.monotonic() < deadline, "raw inputs outlived their retention"
        time.sleep(1)
    assert asyncio.run(_read_topic(worker, names.ingest_raw)) == []
    events = asyncio.run(_read_topic(worker, names.events))
    docs = [orjson.loads(b) for b in events if b.startswith(b'{"event_id"')]
    assert sum(1 for d in docs if is_source_type(d["event_type"])) == len(accepted)
