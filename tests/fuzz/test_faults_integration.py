"""Faults: SIGKILL of the worker and of its ingest child at random points, a crash between
the write-ahead row and the insert, and a broker SIGKILLed and restarted mid-stream.

After every fault the worker is restarted; at the end, with every input produced, the
projections are compared with what the inputs must give (computed independently from them),
and then with a rebuild from the log, which covers every projection (households, disaster
state and persons included): 0 events lost, 0 counted twice.

CI profile: 4 kills (worker and ingest child alternately, at seeded random moments) plus one
write-ahead crash; ``pytest --full``: 24 kills. The broker test runs on a broker of its own.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures import TestBroker, Worker, free_port
from helpers import assert_counts, encode, expected, produce, scenario_events

from eams.broker import LocalKafka
from eams.settings import Settings

pytestmark = pytest.mark.integration


def ingest_child(worker: Worker) -> int:
    """The pid of the worker's ingest child process (multiprocessing spawn)."""
    assert worker.proc is not None
    parent = worker.proc.pid
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            return int(entry.name)
    raise AssertionError(f"no ingest child of {parent}:\n{worker.tail()}")


def wait_exit(worker: Worker, timeout: float = 60) -> None:
    assert worker.proc is not None
    worker.proc.wait(timeout=timeout)


def settled_and_rebuilt(worker: Worker) -> dict[str, Any]:
    """The counts once settled, checked against a rebuild from the log (every projection)."""
    counts = worker.wait_settled(timeout=300)
    worker.api.post("/api/admin/rebuild").raise_for_status()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = worker.status()
        if not status["rebuilding"] and status["projector"]["lag"] == 0:
            rebuilt = worker.wait_settled(timeout=300)
            if rebuilt == counts:
                return counts
        time.sleep(0.3)
    raise AssertionError(f"rebuild differs:\nbefore {counts}\nafter {worker.counts()}")


def test_random_sigkills_of_worker_and_ingest_child(
    worker_factory: Any, full_profile: bool
) -> None:
    kills = 24 if full_profile else 4
    rng = random.Random(20261201)
    events = scenario_events(8_000 if full_profile else 3_000, seed=31)
    raws = encode(events)
    chunks = [raws[i :: kills + 1] for i in range(kills + 1)]
    current = worker_factory()
    topic = current.settings.topics.ingest_raw
    killed = {"worker": 0, "ingest": 0}
    for n in range(kills):
        feeder = threading.Thread(target=produce, args=(current.kafka("raw"), topic, chunks[n]))
        feeder.start()
        time.sleep(rng.uniform(0.05, 1.5))  # a random point of the stream: that is the test
        if n % 2 == 0:
            current.kill()
            killed["worker"] += 1
        else:
            os.kill(ingest_child(current), signal.SIGKILL)
            killed["ingest"] += 1
            wait_exit(current)  # a dead ingest child stops its worker (never half alive)
        feeder.join()
        current = worker_factory(like=current)
    produce(current.kafka("raw"), topic, chunks[kills])
    counts = current.wait_settled(timeout=300)
    assert_counts(counts, expected(events))
    settled_and_rebuilt(current)
    print(f"\nfaults: {killed['worker']} worker and {killed['ingest']} ingest-child SIGKILLs, "
          f"{len(events):,} events: 0 lost, 0 double-counted")  # fmt: skip


def test_crash_between_write_ahead_row_and_insert(worker_factory: Any) -> None:
    # A batch spans the partitions that have events waiting: the first half is written
    # whole (one batch, or more); the second half's batch dies after its write-ahead rows.
    events = scenario_events(2_500, seed=41)
    raws = encode(events)
    first = worker_factory(EAMS_TEST_CRASH_AFTER_WAL="2")
    topic = first.settings.topics.ingest_raw
    produce(first.kafka("raw"), topic, raws[:1_200])
    deadline = time.monotonic() + 120
    while first.proc is not None and first.proc.poll() is None and time.monotonic() < deadline:
        try:
            if first.status()["projector"]["batches"] >= 1:
                break
        except httpx.HTTPError:
            pass  # the crash hook may have fired already
        time.sleep(0.05)
    produce(first.kafka("raw"), topic, raws[1_200:])  # (if it died already: the second's)
    wait_exit(first, timeout=120)
    assert first.proc is not None and first.proc.returncode == 70, first.tail()
    second = worker_factory(like=first, EAMS_TEST_CRASH_AFTER_WAL="0")
    counts = second.wait_settled()
    assert second.status()["projector"]["replayed_batches"] > 0
    assert_counts(counts, expected(events))


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A broker of this test's own, so it can be killed without harming the others."""
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("own-kafka"),
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
    )
    broker = LocalKafka(settings)
    broker.start()
    yield broker, TestBroker(settings.kafka_env())
    broker.stop()


def test_broker_sigkill_and_restart_mid_stream(own_broker: Any, tmp_path: Path) -> None:
    broker, access = own_broker
    events = scenario_events(6_000, seed=51)
    raws = encode(events)
    worker = Worker(access, tmp_path / "worker", "faults").start()
    try:
        topic = worker.settings.topics.ingest_raw
        produce(worker.kafka("raw"), topic, raws[:4_000])
        deadline = time.monotonic() + 60
        while worker.status()["projector"]["rows"] < 500 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(int(broker.pid_file.read_text()), signal.SIGKILL)  # mid-stream
        time.sleep(2)
        broker.start()
        # the worker either rode the outage out or stopped cleanly: restart it if it stopped
        if worker.proc is not None and worker.proc.poll() is not None:
            worker = Worker(access, tmp_path / "worker", "faults").start()
        produce(worker.kafka("raw"), topic, raws[4_000:])
        counts = worker.wait_settled(timeout=300)
        assert counts["events"] == len(events), (worker.status(), worker.tail(80))
        assert_counts(counts, expected(events))
        settled_and_rebuilt(worker)
    finally:
        worker.stop()
        worker.api.close()
