"""The keys of personal data at rest at start, on the real broker: a missing pseudonym key
with events in the log stops the worker; a missing DLQ key is replaced loudly; clear dead
letters of an older release are sealed."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from fixtures import TestBroker

from eams.keys import check_pseudonym_key, open_dead_letters
from eams.settings import Settings
from events.errors import ConfigError
from streams import dlq, topics

pytestmark = pytest.mark.integration


def _settings(kafka: TestBroker, state: Path, **kw: object) -> Settings:
    fields = {k.removeprefix("EAMS_").lower(): v for k, v in kafka.env.items()}
    return Settings(  # type: ignore[arg-type]
        **fields, state_dir=state, namespace=f"k{uuid.uuid4().hex[:8]}", **kw
    )


def _append(s: Settings, topic: str, records: list[tuple[bytes | None, bytes, list]]) -> None:
    async def go() -> None:
        producer = AIOKafkaProducer(**s.kafka("stream").client_options(), enable_idempotence=True)
        await producer.start()
        try:
            for key, value, headers in records:
                await producer.send_and_wait(topic, value, key=key, headers=headers)
        finally:
            await producer.stop()

    asyncio.run(go())


async def _old_release_topics(s: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from eams.broker import ensure_namespace_acls

    admin = AIOKafkaAdminClient(**s.kafka("admin").client_options())
    await admin.start()
    try:
        forever = {"retention.ms": "-1", "retention.bytes": "-1"}
        await admin.create_topics(
            [NewTopic(n, 3, 1, topic_configs=forever) for n in s.topics.all()]
        )
    finally:
        await admin.close()
    await ensure_namespace_acls(s)


def _create(s: Settings) -> None:
    from eams.broker import ensure_namespace_acls

    asyncio.run(topics.ensure_topics(s.kafka("admin"), 3, s.topics))
    asyncio.run(ensure_namespace_acls(s))


def test_missing_pseudonym_key_with_events_in_the_log_stops_the_worker(
    kafka: TestBroker, tmp_path: Path
) -> None:
    s = _settings(kafka, tmp_path / "state")
    _create(s)
    asyncio.run(check_pseudonym_key(s))  # an empty log: a new key may be generated
    _append(s, s.topics.events, [(b"k", b'{"event_id": "x"}', [])])
    with pytest.raises(ConfigError, match="split every person in two"):
        asyncio.run(check_pseudonym_key(s))

    # and `eams run` itself stops with that one line, before anything else starts
    env = {k: v for k, v in os.environ.items() if not k.startswith("EAMS_")}
    env.update(kafka.env)
    env.update(EAMS_STATE_DIR=str(s.state_dir), EAMS_NAMESPACE=s.namespace, EAMS_HTTP_PORT="0")
    done = subprocess.run(
        [sys.executable, "-m", "eams.cli", "run"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pseudonym key" in done.stderr and "EAMS_PSEUDONYM_SECRET" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (s.state_dir / "pseudonym.key").exists()  # no new key was made

    # with the key given, the check passes
    asyncio.run(check_pseudonym_key(_settings(kafka, s.state_dir, pseudonym_secret="k" * 32)))


def test_missing_dlq_key_is_replaced_loudly_and_old_entries_say_why(
    kafka: TestBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = _settings(kafka, tmp_path / "state")
    _create(s)
    old = s.dead_letter_key()
    sealed = dlq.dead_letter_record(
        old, b'{"national_id": "x"}', reason="r", field="f", source="s", origin="o:0:1"
    )
    _append(s, s.topics.dlq, [(sealed.key, sealed.value, sealed.headers)])
    (s.state_dir / "dlq.key").unlink()  # lost

    with caplog.at_level(logging.ERROR, logger="eams"):
        new = asyncio.run(open_dead_letters(s))
    assert new != old and (s.state_dir / "dlq.key").exists()
    assert f"sealed with key {old.key_id} cannot be read" in caplog.text
    [letter] = asyncio.run(dlq.read_dead_letters(s.kafka("stream"), s.topics.dlq, new))
    assert letter.raw is None and letter.problem is not None
    assert old.key_id in letter.problem and "restored" in letter.problem


def test_clear_entries_of_an_older_release_are_sealed_at_start(
    kafka: TestBroker, tmp_path: Path
) -> None:
    s = _settings(kafka, tmp_path / "state")
    asyncio.run(_old_release_topics(s))  # the DLQ of a release before: not compacted
    raw = b'{"payload": {"national_id": "370102199001021234"}}'
    headers = [
        (topics.H_REASON, b"payload.x: bad"),
        (topics.H_FIELD, b"payload.x"),
        (topics.H_SOURCE, b"old"),
        (topics.H_REJECTED_AT, b"2026-01-01T00:00:00+00:00"),
        (topics.H_ORIGIN, b"t.ingest.raw:0:5"),
    ]
    _append(s, s.topics.dlq, [(b"some-event-id", raw, headers), (None, b"keyless", headers)])
    _create(s)  # this release's start: the DLQ becomes compacted

    key = asyncio.run(open_dead_letters(s))
    letters = asyncio.run(dlq.read_dead_letters(s.kafka("stream"), s.topics.dlq, key))
    assert sorted(d.raw or b"" for d in letters) == sorted([raw, b"keyless"])
    assert all(d.key_id == key.key_id and d.migrated_from for d in letters)
    # the old key is tombstoned and sealing twice adds nothing
    asyncio.run(open_dead_letters(s))
    again = asyncio.run(dlq.read_dead_letters(s.kafka("stream"), s.topics.dlq, key))
    assert len(again) == 2
