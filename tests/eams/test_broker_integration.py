"""The local broker's security set-up on real Kafka: credentials at format time, and an old
broker formatted without authentication upgraded in place, its event log kept."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError
from fixtures import free_port

from eams.broker import LocalKafka, _kafka_uuid, _write_private
from eams.settings import Settings
from streams.kafka import KafkaAccess

pytestmark = pytest.mark.integration


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _format_without_security(broker: LocalKafka) -> None:
    """The layout an EAMS release before broker authentication left behind."""
    broker.home.mkdir(parents=True)
    _write_private(broker.config_file, broker._render("maintenance.properties", None))
    subprocess.run(
        [broker._java(), "-cp", broker._classpath(), "kafka.tools.StorageTool", "format",
         f"--cluster-id={_kafka_uuid()}", "-c", str(broker.config_file)],
        check=True, capture_output=True,
    )  # fmt: skip


async def _fill(access: KafkaAccess, topic: str, n: int) -> None:
    admin = AIOKafkaAdminClient(**access.client_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**access.client_options())
    await producer.start()
    try:
        for i in range(n):
            await producer.send_and_wait(topic, b"event-%d" % i)
    finally:
        await producer.stop()


async def _read(access: KafkaAccess, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[bytes] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            values += [r.value or b"" for r in batch.get(tp, [])]
        return values
    finally:
        await consumer.stop()


async def _refused(bootstrap: str) -> bool:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await producer.start()
    except KafkaConnectionError:
        return True
    finally:
        await producer.stop()
    return False


def test_an_open_broker_is_upgraded_in_place_keeping_its_log(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path, kafka_port=free_port(), kafka_controller_port=free_port()
    )
    broker = LocalKafka(settings)
    _format_without_security(broker)
    open_access = KafkaAccess.plaintext(settings.bootstrap)
    broker._wait_ready(broker._launch(broker.config_file), open_access, 90)
    try:
        asyncio.run(_fill(open_access, "eams.events", 25))
    finally:
        broker.stop()
    assert broker.credentials() is None

    broker.start()
    try:
        creds = json.loads(settings.kafka_credentials_file.read_text())
        assert {"admin", "raw", "stream", "controller"} <= creds.keys()
        assert _mode(settings.kafka_credentials_file) == 0o600
        assert _mode(broker.config_file) == 0o600
        assert creds["admin"]["password"] in broker.config_file.read_text()
        # the event log survived, and is now reachable with credentials only
        kept = asyncio.run(_read(settings.kafka("admin"), "eams.events"))
        assert kept == [b"event-%d" % i for i in range(25)]
        assert asyncio.run(_refused(settings.bootstrap))
    finally:
        broker.stop()

    # the next start finds the credentials and goes straight to SASL
    broker.start()
    try:
        assert json.loads(settings.kafka_credentials_file.read_text()) == creds
        assert asyncio.run(_read(settings.kafka("admin"), "eams.events")) == kept
    finally:
        broker.stop()
