"""``/metrics`` of a real worker (``EAMS_METRICS_PORT=0``): after a stream of scenario events
and some commands, the Prometheus exposition says what ``/api/status`` and the event log
say: the inputs accepted, dead-lettered and dropped as resubmissions, the events projected,
the batches with their histogram, a lag of 0 on every partition, the commands by outcome."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import orjson
import pytest
from fixtures import Worker
from helpers import encode, produce, scenario_events
from prometheus_client.parser import text_string_to_metric_families

from eams.metrics import METRICS_PORT_FILE
from events.identity import make_national_id

pytestmark = pytest.mark.integration
NID = make_national_id("370102", dt.date(1981, 5, 6), 24)


def _scrape(worker: Worker) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    port = int((worker.state_dir / METRICS_PORT_FILE).read_text())
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_say_what_the_worker_did(worker_factory: Any) -> None:
    worker: Worker = worker_factory(EAMS_METRICS_PORT="0")
    events = scenario_events(800, seed=61)
    raws = encode(events)
    bad = [orjson.dumps({"event_type": "person.registered", "payload": {}})] * 3
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, raws + raws[:50] + bad)
    worker.wait_settled()
    status = worker.status()
    got = _scrape(worker)

    def one(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    ingest, projector = status["ingest"], status["projector"]
    assert one("eams_ingest_inputs_total", outcome="accepted") == ingest["accepted"] == 800
    assert one("eams_ingest_inputs_total", outcome="duplicates") == ingest["duplicates"] == 50
    assert one("eams_ingest_inputs_total", outcome="rejected") == ingest["rejected"] == 3
    by_type: dict[str, int] = {}
    for e in events:
        by_type[e["event_type"]] = by_type.get(e["event_type"], 0) + 1
    for event_type, n in by_type.items():
        assert one("eams_ingest_events_total", event_type=event_type) == n
    assert one("eams_projector_events_total") == projector["rows"] == 800
    assert one("eams_projector_batches_total") == projector["batches"]
    assert one("eams_projector_batch_events_count") >= projector["batches"]
    assert one("eams_projector_batch_events_sum") >= 800
    lags = {k: v for k, v in got.items() if k[0] == "eams_projector_lag"}
    assert len(lags) == worker.settings.topic_partitions and set(lags.values()) == {0.0}
    # one command accepted and the same registration refused, by type and outcome
    worker.authorize()
    person = {"national_id": NID, "region": "370102", "target_group": "employment_difficulty",
              "facts": {"able_to_work": True, "willing_to_work": True}}  # fmt: skip
    assert worker.api.post("/api/persons", json=person).status_code == 201
    assert worker.api.post("/api/persons", json=person).status_code == 409
    again = _scrape(worker)
    assert again[("eams_commands_total", (("command_type", "person.register"),
                                          ("outcome", "accepted")))] == 1  # fmt: skip
    assert again[("eams_commands_total", (("command_type", "person.register"),
                                          ("outcome", "conflict")))] == 1  # fmt: skip
    assert again[("eams_command_handler_total", (("kind", "rejected"),))] >= 1
    # nothing personal in the exposition: the person's pseudonym and ID are not in it
    port = int((worker.state_dir / METRICS_PORT_FILE).read_text())
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert NID not in text and "p_" not in text and "370102" not in text
