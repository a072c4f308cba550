"""A record the broker (or the client) will never take must not stop anything.

- the API answers an oversized input with the field and the limit, never a 5xx, and
  produces nothing;
- the importer dead-letters a line larger than an input may be (a stub: its head, size and
  digest) and goes on with the next line;
- when the event log refuses an event (here: the topic's record limit lowered below the
  event's size, a real refusal by the real broker), the ingest stream dead-letters that
  event with the broker's reason, emits every other event of the batch and keeps running.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from fixtures import Worker
from helpers import event, produce

from streams.dlq import read_dead_letters
from streams.pipeline import MAX_INPUT_BYTES
from streams.topics import STUB_BYTES

pytestmark = pytest.mark.integration


def _layoff(reason: str | None = None) -> dict[str, object]:
    payload: dict[str, object] = {"enterprise_name": "临沂某厂", "laid_off": 3}
    if reason:
        payload["reason"] = reason
    return event("layoff.reported", "371302", payload)


def _letters(worker: Worker) -> list[object]:
    key = worker.settings.existing_dead_letter_key()
    return list(
        asyncio.run(read_dead_letters(worker.kafka("stream"), worker.settings.topics.dlq, key))
    )


def test_the_api_answers_an_oversized_input_and_produces_nothing(worker: Worker) -> None:
    padded = orjson.dumps(_layoff())[:-1] + b" " * (MAX_INPUT_BYTES + 10) + b"}"
    answer = worker.api.post(
        "/api/ingest", content=padded, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text[:300]
    [line] = answer.json()["results"]
    assert line["field"] == "(body)" and f"{MAX_INPUT_BYTES:,}" in line["reason"]
    assert worker.api.post("/api/ingest", json=_layoff()).status_code == 200
    counts = worker.wait_settled()
    assert counts["events"] == 1


def test_the_importer_dead_letters_a_line_too_large_and_goes_on(
    worker: Worker, tmp_path: Path
) -> None:
    huge = b'{"note": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    path = tmp_path / "office.ndjson"
    path.write_bytes(b"\n".join([orjson.dumps(_layoff()), huge, orjson.dumps(_layoff())]) + b"\n")
    done = subprocess.run(
        [sys.executable, "-m", "eams.cli", "import", str(path)],
        env=worker.env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    counts = worker.wait_settled()
    assert counts["events"] == 2
    [letter] = _letters(worker)
    assert letter.line == "2" and letter.field == "(body)"  # type: ignore[attr-defined]
    assert letter.reason.startswith("line 2: the input is 3,145,740 bytes")  # type: ignore[attr-defined]
    assert letter.raw == huge[:STUB_BYTES]  # type: ignore[attr-defined]


async def _set_record_limit(worker: Worker, limit: int | None) -> None:
    admin = AIOKafkaAdminClient(**worker.kafka("admin").client_options())
    await admin.start()
    try:
        configs = {"max.message.bytes": str(limit)} if limit else {}
        await admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, worker.settings.topics.events, configs=configs
                )
            ]
        )
    finally:
        await admin.close()


def test_an_event_the_log_refuses_is_dead_lettered_and_ingest_goes_on(worker: Worker) -> None:
    small = [_layoff() for _ in range(5)]
    big = _layoff(reason="因洪水停产" * 100)  # 500 characters: valid, ~1.5 KB more than a small one
    asyncio.run(_set_record_limit(worker, 1_400))
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw,
            [orjson.dumps(e) for e in [*small[:3], big, *small[3:]]])  # fmt: skip
    deadline = time.monotonic() + 60
    letters: list[object] = []
    while time.monotonic() < deadline and not letters:
        letters = _letters(worker)
        time.sleep(0.3)
    [letter] = letters
    assert letter.field == "(event)"  # type: ignore[attr-defined]
    assert "MessageSizeTooLarge" in letter.reason or "too large" in letter.reason.lower()  # type: ignore[attr-defined]
    assert orjson.loads(letter.raw)["event_id"] == big["event_id"]  # type: ignore[attr-defined]
    asyncio.run(_set_record_limit(worker, None))
    counts = worker.wait_settled()
    assert counts["events"] == 5  # every other event of the batch went through
    assert worker.proc is not None and worker.proc.poll() is None  # and ingest keeps running
    status = worker.status()
    assert status["ingest_ready"]
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, [orjson.dumps(_layoff())])
    assert worker.wait_settled()["events"] == 6
