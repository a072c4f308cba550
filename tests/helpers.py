"""Helpers for integration tests: produce scenario events and compute what they must yield."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError
from fixtures import INGEST_SECRET

from eams.tools.simulator import Scenario, ScenarioConfig
from events.catalogue import CURRENT_VERSION
from events.clock import SHANGHAI
from events.regions import load_reference
from streams.kafka import KafkaAccess
from streams.principal import Submitter
from streams.producer import RawProducer

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=SHANGHAI)


def event(
    event_type: str,
    region: str,
    payload: dict[str, Any],
    *,
    at: dt.datetime | None = None,
    actor: str = "tester",
) -> dict[str, Any]:
    """One raw input of ``event_type`` at its current schema version, occurred and recorded
    ``at`` (default: now), from the source ``test``."""
    when = (at or dt.datetime.now(SHANGHAI)).isoformat()
    return {"event_id": str(uuid.uuid4()), "event_type": event_type,
            "schema_version": CURRENT_VERSION[event_type], "occurred_at": when,
            "recorded_at": when, "region": region, "source": "test", "actor": actor,
            "payload": payload}  # fmt: skip


def scenario_events(count: int, seed: int = 11, **kw: Any) -> list[dict[str, Any]]:
    """A reproducible slice of the Shandong scenario, occurred_at spread over 10 days."""
    cfg = ScenarioConfig(seed=seed, count=count, start=T0, span=dt.timedelta(days=10), **kw)
    return list(Scenario(load_reference("shandong"), cfg))


def produce(
    kafka: KafkaAccess,
    topic: str,
    raws: list[bytes],
    source: str = "test",
    principal: Submitter | None = None,
) -> None:
    """Send raw inputs to the ingest topic, signed as the importer ``source`` (or as
    ``principal``) with the test workers' key, and wait for the broker's acks."""

    async def go() -> None:
        async with RawProducer(
            kafka, topic, source, signing_key=INGEST_SECRET.encode(), principal=principal
        ) as producer:
            for raw in raws:
                await producer.submit(raw)

    asyncio.run(go())


def encode(events: list[dict[str, Any]]) -> list[bytes]:
    """JSON bytes of each event."""
    return [orjson.dumps(e) for e in events]


def expected(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the projections must hold for these (valid, distinct) events, computed here
    independently of the projector."""
    by_type = Counter(e["event_type"] for e in events)
    layoffs = [e for e in events if e["event_type"] == "layoff.reported"]
    regs = [e for e in events if e["event_type"] == "person.registered"]
    groups = Counter(e["payload"]["target_group"] for e in regs)
    flagged = sum(
        len(e["payload"]["regions"]) for e in events if e["event_type"] == "disaster_area.flagged"
    )
    return {
        "events": len(events),
        "events_by_type": dict(sorted(by_type.items())),
        "people_laid_off": sum(e["payload"]["laid_off"] for e in layoffs),
        "layoff_reports": len(layoffs),
        "registrations": len(regs),
        "reg_temporary_assistance": groups["temporary_assistance"],
        "reg_rural_surplus_labour": groups["rural_surplus_labour"],
        "claims": by_type["unemployment_claim.filed"],
        "services": by_type["service.delivered"],
        "disaster_flags": flagged,
        "persons": len({e["payload"]["national_id"] for e in regs}),
    }


def assert_counts(counts: dict[str, Any], want: dict[str, Any]) -> None:
    """Compare every projection count with the expectation, exactly."""
    facts = counts["facts"]
    assert counts["events"] == want["events"]
    assert counts["distinct_event_ids"] == want["events"]
    assert counts["events_by_type"] == want["events_by_type"]
    assert facts["events"] == want["events"]
    for key in ("people_laid_off", "layoff_reports", "registrations", "reg_temporary_assistance",
                "reg_rural_surplus_labour", "claims", "services", "disaster_flags"):  # fmt: skip
        assert facts[key] == want[key], key
    assert counts["persons"]["persons"] == want["persons"]


async def group_members(
    kafka: KafkaAccess, group: str, topic: str
) -> tuple[str, dict[str, set[int]]]:
    """The group's state and each member's partitions of ``topic``, by client id (no state
    while the broker's group coordinator is still starting: a fresh broker creates it when
    the first group appears)."""
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
    except KafkaError as exc:
        if exc.retriable:
            return "", {}
        raise
    finally:
        await admin.close()
    [description] = response.groups
    state, members = description[2], description[5]
    owned: dict[str, set[int]] = {}
    for member in members:
        # (member_id, [group_instance_id,] client_id, client_host, metadata, assignment)
        client_id, assignment = member[-4], member[-1]
        parts = (
            ConsumerProtocolMemberAssignment.decode(assignment).partitions() if assignment else []
        )
        owned[client_id] = {tp.partition for tp in parts if tp.topic == topic}
    return state, owned


def wait_for(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)


def signed_in(clients: list[httpx.Client], worker: Any, name: str, password: str) -> httpx.Client:
    """A client of ``worker``'s API signed in as user ``name`` (kept in ``clients``, the
    fixture that closes them)."""
    client = httpx.Client(base_url=str(worker.api.base_url), timeout=60)
    clients.append(client)
    answer = client.post("/api/session", json={"name": name, "password": password})
    assert answer.status_code == 200, answer.text
    return client


def in_thread(fn: Any, *args: Any) -> None:
    """Run ``fn(*args)`` in a thread of its own and raise what it raised: Playwright's sync
    API owns its thread's event loop, and the helpers that talk to Kafka run their own."""
    failures: list[BaseException] = []

    def go() -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            failures.append(exc)

    thread = threading.Thread(target=go)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]
