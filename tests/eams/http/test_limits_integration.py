"""Bounded API input on a real worker: bodies and NDJSON batches over their limits are
refused whole (413, nothing produced), ``occurred_at`` ahead of the skew is rejected, and
live streams are limited per user and in total."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fixtures import Worker
from helpers import event

from eams.auth import UserStore
from events.clock import SHANGHAI
from events.identity import make_national_id

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


def _person(n: int, **envelope: Any) -> dict[str, Any]:
    return event("person.registered", "371302", {
        "national_id": make_national_id("371302", dt.date(1990, 1, 1), n),
        "target_group": "employment_difficulty", "employment_status": "unemployed"},
        **envelope)  # fmt: skip


def _raw_count(worker: Worker) -> int:
    """Records in the worker's raw topic (end offsets summed)."""

    async def go() -> int:
        consumer = AIOKafkaConsumer(**worker.kafka("stream").client_options())
        await consumer.start()
        try:
            topic = worker.settings.topics.ingest_raw
            cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001
            tps = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
            return sum((await consumer.end_offsets(tps)).values())
        finally:
            await consumer.stop()

    return asyncio.run(go())


@pytest.fixture
def limited(worker_factory: Any) -> Iterator[Worker]:
    """A worker with small limits, so the tests stay small."""
    yield worker_factory(EAMS_MAX_BODY_BYTES="4096", EAMS_MAX_BATCH_LINES="3",
                         EAMS_SSE_PER_USER="2", EAMS_SSE_TOTAL="3")  # fmt: skip


def test_bodies_batches_and_future_dates_are_bounded(limited: Worker) -> None:
    api = limited.api
    ndjson = {"content-type": "application/x-ndjson"}
    big = b"\n".join(orjson.dumps(_person(i)) for i in range(12))  # > 4096 bytes
    assert len(big) > 4096

    declared = api.post("/api/ingest", content=big, headers=ndjson)
    assert declared.status_code == 413
    assert "4096 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it is read
        for i in range(0, len(big), 500):
            yield big[i : i + 500]

    streamed = api.post("/api/ingest", content=chunks(), headers=ndjson)
    assert streamed.status_code == 413 and "EAMS_MAX_BODY_BYTES" in streamed.json()["detail"]
    too_long = api.post("/api/session", content=b'{"name": "' + b"n" * 5000 + b'"}',
                        headers={"content-type": "application/json"})  # fmt: skip
    assert too_long.status_code == 413  # every route, not only ingest

    four = b"\n".join(orjson.dumps(_person(i)) for i in range(4))
    lines = api.post("/api/ingest", content=four, headers=ndjson)
    assert lines.status_code == 413
    assert "4 events" in lines.json()["detail"] and "limit of 3" in lines.json()["detail"]

    ahead = dt.datetime.now(SHANGHAI) + dt.timedelta(hours=2)
    future = api.post("/api/ingest", json=_person(50, at=ahead))
    assert future.status_code == 422
    [result] = future.json()["results"]
    assert result["field"] == "occurred_at" and "EAMS_MAX_FUTURE_SKEW" in result["reason"]

    fine = _person(99)
    assert api.post("/api/ingest", json=fine).status_code == 200
    counts = limited.wait_settled()
    assert _raw_count(limited) == 1  # nothing of the refused requests was produced
    assert counts["events"] == 1


def test_live_streams_are_limited_per_user_and_in_total(limited: Worker) -> None:
    users = UserStore(limited.state_dir / "users.sqlite")
    for name in ("duty-a", "duty-b", "duty-c"):
        users.add_user(name, "duty_officer", PASSWORD, [])

    def client(name: str) -> httpx.Client:
        made = httpx.Client(base_url=str(limited.api.base_url), timeout=10)
        answer = made.post("/api/session", json={"name": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return made

    a, b, c = client("duty-a"), client("duty-b"), client("duty-c")
    opened: list[tuple[Any, Any]] = []  # (stream context, its byte iterator) held open
    try:

        def open_stream(who: httpx.Client) -> httpx.Response:
            ctx = who.stream("GET", "/api/stream")
            response = ctx.__enter__()
            if response.status_code != 200:
                response.read()
                ctx.__exit__(None, None, None)
                return response
            chunks = response.iter_bytes()  # dropping the iterator would close the stream
            next(chunks)  # the stream is really open
            opened.append((ctx, chunks))
            return response

        assert [open_stream(a).status_code for _ in range(2)] == [200, 200]
        mine = open_stream(a)
        assert mine.status_code == 429 and "EAMS_SSE_PER_USER" in mine.json()["detail"]
        assert mine.headers["retry-after"]
        assert open_stream(b).status_code == 200
        everyone = open_stream(c)
        assert everyone.status_code == 429 and "EAMS_SSE_TOTAL" in everyone.json()["detail"]

        ctx, _ = opened.pop(0)
        ctx.__exit__(None, None, None)  # one of a's streams ends: its slot is free again
        deadline = time.monotonic() + 10
        again = open_stream(c)
        while again.status_code == 429 and time.monotonic() < deadline:
            time.sleep(0.2)  # the worker notices the disconnect within a tick
            again = open_stream(c)
        assert again.status_code == 200
    finally:
        for ctx, _ in opened:
            ctx.__exit__(None, None, None)
        for made in (a, b, c):
            made.close()
