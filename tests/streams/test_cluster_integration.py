"""A three-node KRaft cluster of the project's own broker (``eams kafka start --brokers 3``):
the EAMS topics have three replicas and ``min.insync.replicas`` 2, the producers
``acks=all`` with idempotence. One node, the leader of the first events partition, is
SIGKILLed mid-stream; inputs keep coming while it is down, and it is started again later.
The worker (the same process throughout: nothing restarts it) produces, consumes and
projects through the outage by itself: 0 events lost, 0 counted twice."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fixtures import TestBroker, Worker
from helpers import assert_counts, encode, expected, produce, scenario_events

from eams.broker import LocalKafka
from eams.errors import BrokerError
from eams.settings import Settings
from streams.kafka import KafkaAccess
from streams.topics import describe_topic_configs

pytestmark = pytest.mark.integration


def _free_block(size: int, attempts: int = 50) -> int:
    """The first of ``size`` consecutive loopback ports nobody listens on (racy like
    fixtures.free_port: the start is retried on other ports when one is taken)."""
    for _ in range(attempts):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + size > 65535:
            continue
        taken = False
        for port in range(base, base + size):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    taken = True
                    break
        if not taken:
            return base
    raise AssertionError(f"no {size} consecutive free ports")


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalKafka, TestBroker]]:
    state = tmp_path_factory.mktemp("cluster")
    for attempt in range(3):
        base = _free_block(6)
        settings = Settings(state_dir=state, kafka_port=base, kafka_controller_port=base + 1,
                            kafka_brokers=3, kafka_heap="320m")  # fmt: skip
        broker = LocalKafka(settings)
        try:
            broker.start(timeout=180)
            break
        except BrokerError:
            broker.stop()
            if attempt == 2:
                raise
    try:
        yield broker, TestBroker(settings.kafka_env())
    finally:
        broker.stop()


def _partitions(access: KafkaAccess, topic: str) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        admin = AIOKafkaAdminClient(**access.client_options())
        await admin.start()
        try:
            [described] = await admin.describe_topics([topic])
            return list(described["partitions"])
        finally:
            await admin.close()

    return asyncio.run(go())


def _min_insync(access: KafkaAccess, topic: str) -> str | None:
    async def go() -> str | None:
        admin = AIOKafkaAdminClient(**access.client_options())
        await admin.start()
        try:
            configs = await describe_topic_configs(admin, [topic])
            return configs[topic]["min.insync.replicas"][0]
        finally:
            await admin.close()

    return asyncio.run(go())


def _wait(what: str, done: Any, worker: Worker, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout}s:\n{worker.tail(60)}")
        time.sleep(0.05)


def test_one_node_killed_mid_stream_loses_and_doubles_nothing(
    cluster: tuple[LocalKafka, TestBroker], tmp_path: Path
) -> None:
    broker, access = cluster
    assert len(access.bootstrap.split(",")) == 3  # a client can bootstrap from any node
    events = scenario_events(6_000, seed=52)
    raws = encode(events)
    worker = Worker(access, tmp_path / "worker", "cluster").start(timeout=180)
    assert worker.proc is not None
    pid = worker.proc.pid
    try:
        names = worker.settings.topics
        admin = access.kafka("admin")
        for topic in names.all():
            parts = _partitions(admin, topic)
            assert {len(p["replicas"]) for p in parts} == {3}, (topic, parts)
            assert _min_insync(admin, topic) == "2", topic
        # the leader of the first events partition is the one to go
        [first] = [p for p in _partitions(admin, names.events) if p["partition"] == 0]
        victim = int(first["leader"])

        produce(worker.kafka("raw"), names.ingest_raw, raws[:2_500])
        _wait("500 rows projected", lambda: worker.status()["projector"]["rows"] >= 500, worker)
        broker.kill(victim)
        assert broker.pid(victim) is None and broker.status().nodes[victim - 1].pid is None
        # inputs keep coming while the node is down: acks=all is met by the two in sync
        produce(worker.kafka("raw"), names.ingest_raw, raws[2_500:4_500])
        _wait(
            "the stream goes on without the node",
            lambda: worker.status()["projector"]["rows"] >= 3_000,
            worker,
            timeout=180,
        )
        assert broker.pid(victim) is None  # it was down all along
        broker.start(timeout=180)  # the node comes back and catches up
        assert all(n.pid is not None for n in broker.status().nodes)
        produce(worker.kafka("raw"), names.ingest_raw, raws[4_500:])
        counts = worker.wait_settled(timeout=300)
        assert worker.proc.pid == pid and worker.proc.poll() is None, worker.tail(80)
        assert_counts(counts, expected(events))
        _wait(
            "the node back in sync",
            lambda: all(victim in p["isr"] for p in _partitions(admin, names.events)),
            worker,
        )
    finally:
        worker.stop()
        worker.api.close()
