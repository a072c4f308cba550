"""The logs of a real worker (``eams run``, :mod:`eams.logs`): its stderr is JSON lines,
from the worker process and from its ingest child (each with its role and pid), and the
correlation id an HTTP command is answered with (``X-Correlation-ID``) is on the command
handler's line about that command; no national ID comes out."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fixtures import TestBroker, Worker
from helpers import wait_for

from eams.http.correlation import HEADER
from events.identity import make_national_id

pytestmark = pytest.mark.integration
NID = make_national_id("370102", dt.date(1979, 3, 4), 31)


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]  # a line being written is read next time
    return [json.loads(line) for line in complete.splitlines()]


def test_a_worker_logs_json_lines_with_the_correlation_id_of_a_command(
    kafka: TestBroker, tmp_path: Path
) -> None:
    worker = Worker(kafka, tmp_path / "state", f"tlogs-{uuid.uuid4().hex[:6]}")
    worker.errors = tmp_path / "stderr.log"
    try:
        worker.start()
        assert worker.proc is not None
        person = {"national_id": NID, "region": "370102", "target_group": "employment_difficulty",
                  "facts": {"able_to_work": True, "willing_to_work": True}}  # fmt: skip
        created = worker.api.post("/api/persons", json=person)
        assert created.status_code == 201, created.text
        minted = created.headers[HEADER]
        assert str(uuid.UUID(minted)) == minted
        ours = str(uuid.uuid4())
        again = worker.api.post("/api/persons", json=person, headers={HEADER: ours})
        assert again.status_code == 409 and again.headers[HEADER] == ours

        def decided(correlation: str) -> dict[str, Any] | None:
            return next(
                (
                    line
                    for line in _lines(worker.errors)  # type: ignore[arg-type]
                    if line.get("correlation_id") == correlation
                    and line["event"].startswith("command decided")
                ),
                None,
            )

        first = wait_for(lambda: decided(minted), "the handler's line about the registration")
        assert re.fullmatch(r"command decided: accepted at version \d+", first["event"])
        assert first["logger"] == "streams.commands.handler" and first["level"] == "info"
        assert first["command_type"] == "person.register"
        assert first["role"] == "all" and first["pid"] == worker.proc.pid
        uuid.UUID(first["command_id"])
        second = wait_for(lambda: decided(ours), "the handler's line about the repeat")
        assert second["event"].startswith("command decided: conflict")
        assert second["command_id"] != first["command_id"]

        lines = _lines(worker.errors)  # every line of stderr parses as one JSON object
        for line in lines:
            assert {"timestamp", "level", "logger", "event", "role", "pid"} <= set(line), line
        children = [line for line in lines if line["role"] == "ingest"]
        assert children, "the ingest child logged nothing (its partitions, at info)"
        assert {line["pid"] for line in children} != {worker.proc.pid}
        assert NID not in worker.errors.read_text() and NID not in worker.log.read_text()
    finally:
        worker.stop()
        worker.api.close()
