"""Authorization binds where events are accepted (issue 9, finding 2), on a real worker.

A case officer of Linyi (371300) posting a red flag for Jinan (370100) as someone else is
answered 422, and the forged event is in no topic and no projection; what the API rejects is
never produced; an API key is held to its allow-list; a record written to the raw topic by
any other client is dead-lettered, and a signed record is checked again by the stream.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fixtures import Worker
from helpers import event, produce

from eams.auth import UserStore
from events.identity import make_national_id
from streams import topics
from streams.kafka import KafkaAccess
from streams.pipeline import is_source_type
from streams.principal import H_PRINCIPAL, H_SIGNATURE, Signer, Submitter

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
RULES = """rules:
  - id: disaster-city
    title: 灾区 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
      I: {enter: 4, exit: 4}
"""


def _flag(city: str, county: str, **envelope: Any) -> dict[str, Any]:
    """A level-I disaster-area flag, without source or actor (the principal's are used)."""
    doc = event("disaster_area.flagged", city, {
        "disaster_id": f"d-{uuid.uuid4().hex[:8]}", "kind": "natural_disaster",
        "severity": "I", "regions": [county], "title": "洪涝",
        "period_start": dt.date.today().isoformat()})  # fmt: skip
    del doc["source"], doc["actor"]
    return doc | envelope


def _person(county: str, n: int) -> dict[str, Any]:
    doc = event("person.registered", county, {
        "national_id": make_national_id(county, dt.date(1990, 1, 1), n),
        "target_group": "employment_difficulty", "employment_status": "unemployed"})  # fmt: skip
    del doc["source"], doc["actor"]
    return doc


async def _read_all(kafka: KafkaAccess, topic: str) -> list[Any]:
    """Every record of ``topic`` from its start to its current end."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001
        tps = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: list[Any] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(records)
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


def _ids(records: list[Any]) -> set[str]:
    """The event ids in JSON record values (records that are not JSON events are skipped)."""
    out = set()
    for r in records:
        try:
            doc = orjson.loads(r.value or b"")
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("event_id"), str):
            out.add(doc["event_id"])
    return out


async def _produce_plain(
    kafka: KafkaAccess, topic: str, items: list[tuple[bytes, Any]]
) -> list[str]:
    """Produce straight to the raw topic as a client that is not the API or the importer
    (it may write the topic, it has no signing key); returns ``topic:partition:offset``."""
    producer = AIOKafkaProducer(**kafka.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        where = []
        for value, headers in items:
            meta = await producer.send_and_wait(topic, value=value, headers=headers)
            where.append(f"{topic}:{meta.partition}:{meta.offset}")
        return where
    finally:
        await producer.stop()


@pytest.fixture
def http() -> Iterator[list[httpx.Client]]:
    """HTTP clients of the test, closed at its end."""
    made: list[httpx.Client] = []
    yield made
    for client in made:
        client.close()


def test_what_the_api_rejects_never_enters_and_the_stream_re_checks(
    worker_factory: Any, tmp_path: Path, http: list[httpx.Client]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    worker: Worker = worker_factory(EAMS_RULES=str(tmp_path / "rules.yaml"),
                                    EAMS_RISK_INTERVAL="0.3")  # fmt: skip
    names = worker.settings.topics
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("case-linyi", "case_officer", PASSWORD, ["371300"])
    base = str(worker.api.base_url)
    case = httpx.Client(base_url=base, timeout=30)
    http.append(case)
    assert case.post("/api/session", json={"name": "case-linyi",
                     "password": PASSWORD}).status_code == 200  # fmt: skip

    # The finding: a red flag for Jinan, posted as someone else.
    forged = _flag("370100", "370102", actor="jinan-duty")
    answer = case.post("/api/ingest", json=forged)
    assert answer.status_code == 422
    [result] = answer.json()["results"]
    assert result["field"] == "actor" and "must be you ('case-linyi')" in result["reason"]
    # As themselves, still outside their regions; and a batch where only one line is fine.
    jinan = _flag("370100", "370102")
    assert case.post("/api/ingest", json=jinan).json()["results"][0]["field"] == "region"
    own = _flag("371300", "371302")
    spill = _flag("371300", "370102")
    batch = case.post("/api/ingest", content=b"\n".join(orjson.dumps(e) for e in (own, spill)),
                      headers={"content-type": "application/x-ndjson"})  # fmt: skip
    assert batch.status_code == 207
    assert [r["status"] for r in batch.json()["results"]] == ["accepted", "rejected"]
    assert batch.json()["results"][1]["field"] == "payload.regions[0]"

    # An API key allowed registrations in Linyi only.
    key = users.add_key("civil-affairs", ("person.registered",), ("371300",))
    feed = httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": key})
    http.append(feed)
    registered = _person("371302", 1)
    assert feed.post("/api/ingest", json=registered).status_code == 200
    key_flag = _flag("371300", "371302")
    wrong_type = feed.post("/api/ingest", json=key_flag).json()["results"][0]
    assert wrong_type["field"] == "event_type" and "person.registered only" in wrong_type["reason"]
    elsewhere = _person("370102", 2)
    assert feed.post("/api/ingest", json=elsewhere).json()["results"][0]["field"] == "region"

    # Straight to the raw topic: unsigned, a forged signature, and a signed record the API
    # would have refused (the stream checks the principal again).
    unsigned = _flag("370100", "370102", source="test", actor="x")
    fake = _flag("370100", "370103", source="test", actor="x")
    operator = Submitter("operator", "operator").to_header()
    outside = Signer(b"not-the-workers-key-0123456789abcdef")
    aside = asyncio.run(_produce_plain(worker.kafka("raw"), names.ingest_raw, [
        (orjson.dumps(unsigned), []),
        (orjson.dumps(fake), [(H_PRINCIPAL, operator),
                              (H_SIGNATURE, outside.signature(orjson.dumps(fake), operator))]),
    ]))  # fmt: skip
    stream_checked = _flag("370100", "370102", actor="case-linyi")
    produce(worker.kafka("raw"), names.ingest_raw, [orjson.dumps(stream_checked)],
            principal=Submitter("user", "case-linyi", "case_officer", ("371300",)))  # fmt: skip

    counts = worker.wait_settled()
    refused = {e["event_id"] for e in (forged, jinan, spill, key_flag, elsewhere)}
    never_ingested = refused | {e["event_id"] for e in (unsigned, fake, stream_checked)}

    # The log: what the API refused was never produced; nothing forged was appended.
    raw = asyncio.run(_read_all(worker.kafka("stream"), names.ingest_raw))
    assert _ids(raw) & refused == set()
    assert {own["event_id"], registered["event_id"]} <= _ids(raw)
    appended = asyncio.run(_read_all(worker.kafka("stream"), names.events))
    assert _ids(appended) & never_ingested == set()
    stored = {d["event_id"]: d for d in (orjson.loads(r.value) for r in appended)}
    assert (stored[own["event_id"]]["actor"], stored[own["event_id"]]["source"]) == (
        "case-linyi", "user:case-linyi")  # fmt: skip
    assert stored[registered["event_id"]]["source"] == "civil-affairs"

    # The dead letters: the unsigned and forged records, and the one the stream re-checked.
    letters = asyncio.run(_read_all(worker.kafka("stream"), names.dlq))
    reasons = {topics.header(r.headers, topics.H_ORIGIN): topics.header(r.headers, topics.H_REASON)
               for r in letters}  # fmt: skip
    for where in aside:
        assert "not submitted through the API or the importer" in (reasons.get(where) or "")
    assert len(letters) == 3
    assert sum("region: 370100 is outside your regions" in (r or "") for r in reasons.values()) == 1
    deadline = time.monotonic() + 30  # the stream's counters reach the API twice a second
    status = worker.status()["ingest"]
    while status["rejected"] + status["accepted"] < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
        status = worker.status()["ingest"]
    assert status["unsigned"] == 2 and status["rejected"] == 3 and status["accepted"] == 2

    # The projections: one flag (Linyi's), one registration; Jinan is nowhere.
    submitted = {t: n for t, n in counts["events_by_type"].items() if is_source_type(t)}
    assert submitted == {"disaster_area.flagged": 1, "person.registered": 1}  # + EAMS's own
    areas = worker.api.get("/api/disaster-areas").json()
    assert {a["region"] for a in areas} == {"371302"}
    deadline = time.monotonic() + 30  # the evaluator has seen the state: Linyi's alert is up
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not alerts:
        alerts = worker.api.get("/api/alerts").json()
        time.sleep(0.2)
    assert {a["region"] for a in alerts} == {"371300"}
