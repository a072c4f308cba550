"""Ingest workers by partition: two ingest processes (``python -m eams.ingest_process``) in
the consumer group ``<ns>.ingest`` share a raw topic of six partitions; one is SIGKILLed
mid-stream while inputs keep coming, and the other takes its partitions over.

What is asserted comes from the broker's own records (the event log and the raw topic read
to their ends, the group's committed offsets and its description), not from counters the
processes keep:

- every event id produced is in the log, and no other;
- all submissions of an id (the same bytes again, or the id spelled in capitals or without
  hyphens) went to one raw partition, and every copy of the event in the log carries the
  mark of the *first* of them: a resubmission was recognised by whichever process owned the
  partition, before and after the failover (some resubmit ids first ingested by the killed
  process and reach the survivor only);
- all copies of an event are the same bytes, and an event is in the log more than once only
  as the documented at-least-once re-emission: its raw record lies on a partition of the
  killed process, at or past the offset that process had committed there when it died
  (its last batch was flushed, not committed; consumers absorb it by event id);
- the survivor ends as the group's only member owning every partition, and the committed
  offsets of every partition reach the raw topic's end.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fixtures import INGEST_SECRET, SECRET, TestBroker
from helpers import encode, group_members, produce, scenario_events, wait_for

from eams.broker import ensure_namespace_acls
from eams.settings import Settings
from streams import topics
from streams.kafka import KafkaAccess
from streams.producer import RawProducer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 6


class IngestMember:
    """One ingest process of its own, logging to ``log`` (``crash_at``: it dies by itself
    between flushing and committing its batch number ``crash_at``, see ingest_crash.py)."""

    def __init__(self, env: dict[str, str], log: Path, crash_at: int = 0) -> None:
        self.log = log
        command = ["-m", "eams.ingest_process"]
        if crash_at:
            command = [str(Path(__file__).with_name("ingest_crash.py")), str(crash_at)]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *command],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def client_id(self, group: str) -> str:
        """The client id its group consumer announces (see ``streams.ingest``)."""
        return f"{group}-{socket.gethostname()}-{self.proc.pid}"

    def tail(self, lines: int = 30) -> str:
        """The end of its log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, no leaving the group."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM: finish the batch, commit, leave the group; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.returncode


@pytest.fixture
def namespace(kafka: TestBroker, tmp_path: Path) -> Settings:
    """A namespace of its own whose raw topic has six partitions: topics, ACLs and keys
    made as ``eams run`` makes them, so the ingest processes find everything in place."""
    settings = Settings(
        **{k.removeprefix("EAMS_").lower(): v for k, v in kafka.env.items()},
        state_dir=tmp_path / "state",
        namespace=f"failover-{uuid.uuid4().hex[:6]}",
        pseudonym_secret=SECRET,
        ingest_secret=INGEST_SECRET,
        topic_partitions=PARTITIONS,
    )

    async def prepare() -> None:
        await topics.ensure_topics(
            settings.kafka("admin"),
            PARTITIONS,
            settings.topics,
            raw_retention_ms=settings.raw_retention_ms,
        )
        await ensure_namespace_acls(settings)

    asyncio.run(prepare())
    settings.dead_letter_key()  # created once, shared by both processes (one state dir)
    return settings


@pytest.fixture
def members(kafka: TestBroker, namespace: Settings, tmp_path: Path) -> Iterator[Any]:
    """Start ingest processes of the namespace: ``members(name[, crash_at])``; stopped at
    the end."""
    started: list[IngestMember] = []
    env = dict(os.environ)
    env.update(kafka.env)
    env.update(
        EAMS_STATE_DIR=str(namespace.state_dir),
        EAMS_NAMESPACE=namespace.namespace,
        EAMS_PSEUDONYM_SECRET=SECRET,
        EAMS_INGEST_SECRET=INGEST_SECRET,
        EAMS_TOPIC_PARTITIONS=str(PARTITIONS),
        EAMS_LOG_LEVEL="info",
        PYTHONPATH=str(ROOT),  # this tree's packages, also for ingest_crash.py
    )

    def start(name: str, crash_at: int = 0) -> IngestMember:
        member = IngestMember(env, tmp_path / f"{name}.log", crash_at)
        started.append(member)
        return member

    yield start
    for member in started:
        member.stop()


async def _offsets(
    kafka: KafkaAccess, group: str, topic: str
) -> tuple[dict[int, int], dict[int, int]]:
    """The raw topic's end offsets and the group's committed offsets, per partition."""
    consumer = AIOKafkaConsumer(**kafka.client_options())
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await consumer.start()
    await admin.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await consumer.stop()
        await admin.close()
    return (
        {tp.partition: ends[tp] for tp in tps},
        {tp.partition: m.offset for tp, m in committed.items() if tp.topic == topic},
    )


async def _read_all(kafka: KafkaAccess, topic: str) -> list[Any]:
    """Every record of ``topic`` (headers included), read to the end."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            for batch in (await consumer.getmany(*remaining, timeout_ms=500)).values():
                records.extend(batch)
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return records


def _feed(kafka: KafkaAccess, topic: str, raws: list[bytes], first_acked: threading.Event) -> None:
    """Produce ``raws`` in acknowledged chunks: 600 first (``first_acked`` once the broker
    has them: a batch the consumer is likely still working on), then 100 at a time."""

    async def go() -> None:
        async with RawProducer(
            kafka, topic, "test", signing_key=INGEST_SECRET.encode()
        ) as producer:
            bounds = [0, *range(600, len(raws), 100), len(raws)]
            for lo, hi in itertools.pairwise(bounds):
                for raw in raws[lo:hi]:
                    await producer.submit(raw)
                await producer.flush()
                first_acked.set()

    asyncio.run(go())


def _respelled(raw: bytes, how: str) -> bytes:
    """The same input with its event id spelled another way (the same id to the envelope)."""
    doc = orjson.loads(raw)
    doc["event_id"] = (
        doc["event_id"].upper() if how == "upper" else doc["event_id"].replace("-", "")
    )
    return orjson.dumps(doc)


def _resubmissions(raws: list[bytes], rng: random.Random, n: int) -> list[bytes]:
    """``n`` resubmissions of inputs among ``raws``: a third the same bytes, a third with the
    id in capitals, a third without hyphens."""
    picked = rng.sample(raws, n)
    return [raw if i % 3 == 0 else _respelled(raw, "upper" if i % 3 == 1 else "plain")
            for i, raw in enumerate(picked)]  # fmt: skip


def _canonical(raw: bytes) -> str:
    return str(uuid.UUID(orjson.loads(raw)["event_id"]))


class Stream:
    """A namespace's topics and group as the test sees them, through the broker."""

    def __init__(self, kafka: TestBroker, namespace: Settings) -> None:
        self.kafka = kafka
        self.names = namespace.topics
        self.group = f"{namespace.namespace}.ingest"
        self.raw = self.names.ingest_raw
        self.admin = kafka.kafka("admin")

    def produce(self, raws: list[bytes]) -> None:
        """Produce ``raws`` and wait for the broker's acks."""
        produce(self.kafka.kafka("raw"), self.raw, raws)

    def feeder(self, raws: list[bytes]) -> tuple[threading.Thread, threading.Event]:
        """A thread producing ``raws`` (see :func:`_feed`), started, and its first ack."""
        first_acked = threading.Event()
        thread = threading.Thread(
            target=_feed, args=(self.kafka.kafka("raw"), self.raw, raws, first_acked)
        )
        thread.start()
        return thread, first_acked

    def owners(self) -> dict[str, set[int]] | None:
        """Each member's raw partitions, by client id, once the group is stable."""
        state, owned = asyncio.run(group_members(self.admin, self.group, self.raw))
        return owned if state == "Stable" else None

    def offsets(self) -> tuple[dict[int, int], dict[int, int]]:
        """The raw topic's end offsets and the group's committed ones."""
        return asyncio.run(_offsets(self.admin, self.group, self.raw))

    def wait_shared(self, *members: IngestMember) -> dict[str, set[int]]:
        """Wait until exactly ``members`` are in the group, each with partitions, together
        every partition; their partitions by client id."""

        def shared() -> dict[str, set[int]] | None:
            owned = self.owners()
            if owned is None or set(owned) != {m.client_id(self.group) for m in members}:
                return None
            if not all(owned.values()):
                return None
            return owned if set().union(*owned.values()) == set(range(PARTITIONS)) else None

        who = ", ".join(m.log.stem for m in members)
        got: dict[str, set[int]] = wait_for(shared, f"{who} sharing every raw partition")
        return got

    def wait_consumed(self, owner: IngestMember) -> None:
        """Wait until ``owner`` is the group's only member, owns every partition and has
        committed every partition to its end."""

        def done() -> bool:
            owned = self.owners()
            if owned != {owner.client_id(self.group): set(range(PARTITIONS))}:
                return False
            ends, committed = self.offsets()
            return all(committed.get(p) == end for p, end in ends.items())

        wait_for(done, f"{owner.log.stem} owning and consuming everything:\n{owner.tail()}")

    def verdict(self, originals: list[bytes], produced: int) -> dict[str, str]:
        """Check the log against the raw topic (see the module docstring); the events that
        are in the log more than once, with the raw mark they carry."""
        raw_records = asyncio.run(_read_all(self.kafka.kafka("stream"), self.raw))
        assert len(raw_records) == produced
        positions: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for r in raw_records:
            positions[_canonical(r.value)].append((r.partition, r.offset))
        assert all(len({p for p, _ in where}) == 1 for where in positions.values()), (
            "the submissions of one id went to several raw partitions"
        )
        first = {event_id: "{}:{}".format(*min(where)) for event_id, where in positions.items()}

        log = asyncio.run(_read_all(self.kafka.kafka("stream"), self.names.events))
        copies: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        for r in log:
            headers = dict(r.headers)
            event_id = str(uuid.UUID(bytes=bytes(headers[topics.H_EVENT_ID])))
            copies[event_id].append((bytes(headers[topics.H_RAW_MARK]).decode(), r.value))

        assert set(copies) == {_canonical(raw) for raw in originals}  # none missing, none extra
        for event_id, found in copies.items():
            marks, values = {m for m, _ in found}, {v for _, v in found}
            assert marks == {first[event_id]}, (event_id, marks, positions[event_id])
            assert len(values) == 1, event_id
        return {event_id: first[event_id] for event_id, found in copies.items() if len(found) > 1}


def _assert_re_emitted_by_the_dead_only(
    twice: dict[str, str], theirs: set[int], at_death: dict[int, int]
) -> None:
    """Every event in the log twice came from a raw record of the dead process's partitions
    at or past the offset it had committed there: its last, uncommitted batch."""
    for event_id, mark in twice.items():
        partition, offset = (int(x) for x in mark.split(":"))
        assert partition in theirs and offset >= at_death.get(partition, 0), (
            event_id, mark, sorted(theirs), at_death,
        )  # fmt: skip


def _inputs(seed: int) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """2,400 events and 240 resubmissions in two phases. Phase 1 resubmits its own inputs;
    phase 2 resubmits inputs of phase 1 (so some reach another process than the one that
    ingested them) and its own, always after the original in the stream."""
    rng = random.Random(seed)
    originals = encode(scenario_events(2_400, seed=61))
    first, second = originals[:1_200], originals[1_200:]
    phase1 = first + _resubmissions(first, rng, 60)
    phase2 = second[:600] + _resubmissions(first, rng, 120) + second[600:]
    phase2 += _resubmissions(second, rng, 60)
    return originals, phase1, phase2


@pytest.fixture
def stream(kafka: TestBroker, namespace: Settings) -> Stream:
    """The namespace's topics and group, seen through the broker."""
    return Stream(kafka, namespace)


def test_a_second_ingest_process_takes_over_the_partitions_of_one_killed_mid_stream(
    stream: Stream, members: Any
) -> None:
    originals, phase1, phase2 = _inputs(20261202)
    victim, survivor = members("victim"), members("survivor")
    theirs = stream.wait_shared(victim, survivor)[victim.client_id(stream.group)]

    stream.produce(phase1)

    def victim_progress() -> bool:
        _, committed = stream.offsets()
        return any(committed.get(p, -1) > 0 for p in theirs)

    wait_for(victim_progress, f"the victim committing on its partitions {sorted(theirs)}")
    feeder, first_acked = stream.feeder(phase2)
    assert first_acked.wait(60), "the feeder's first chunk was not acknowledged"
    victim.kill()  # mid-stream, likely mid-batch: the feeder goes on producing
    killed = time.monotonic()
    _, at_death = stream.offsets()
    feeder.join(120)
    assert not feeder.is_alive()

    stream.wait_consumed(survivor)
    took = time.monotonic() - killed
    ends, _ = stream.offsets()
    for p in theirs:  # the survivor did the victim's work that came after its death
        assert ends[p] > at_death.get(p, 0)
    twice = stream.verdict(originals, len(phase1) + len(phase2))
    _assert_re_emitted_by_the_dead_only(twice, theirs, at_death)
    assert survivor.stop() == 0, survivor.tail()
    print(
        f"\nfailover: {len(originals):,} events and {len(phase1) + len(phase2) - len(originals)} "
        f"resubmissions over {PARTITIONS} partitions; the victim owned {sorted(theirs)}, "
        f"committed {dict(sorted((p, at_death.get(p, 0)) for p in theirs))} at its SIGKILL; "
        f"{len(twice)} events re-emitted by the survivor, 0 lost, 0 resubmissions emitted; "
        f"everything consumed {took:.1f} s after the SIGKILL (the group waits out the dead "
        "member's 10 s session)"
    )


def test_a_batch_flushed_but_not_committed_is_re_emitted_under_its_own_marks(
    stream: Stream, members: Any
) -> None:
    # The victim dies by itself between steps 4 and 5 of its 3rd batch, the one moment a
    # SIGKILL rarely hits: its outputs are in the log, its offsets are not committed.
    originals, phase1, phase2 = _inputs(20261203)
    victim, survivor = members("victim", crash_at=3), members("survivor")
    theirs = stream.wait_shared(victim, survivor)[victim.client_id(stream.group)]
    feeder, _ = stream.feeder(phase1 + phase2)
    assert victim.proc.wait(timeout=120) == 70, victim.tail()
    _, at_death = stream.offsets()
    feeder.join(120)
    assert not feeder.is_alive()

    stream.wait_consumed(survivor)
    twice = stream.verdict(originals, len(phase1) + len(phase2))
    assert twice, "the victim's flushed batch should be in the log twice"
    _assert_re_emitted_by_the_dead_only(twice, theirs, at_death)


def test_processes_joining_and_leaving_mid_stream_emit_nothing_twice(
    stream: Stream, members: Any
) -> None:
    # A graceful rebalance (a member joins, a member stops) finishes the batch in hand,
    # flushed and committed, before the partitions move: the log holds every event once.
    originals, phase1, phase2 = _inputs(20261204)
    first = members("first")
    stream.wait_shared(first)
    feeder, first_acked = stream.feeder(phase1)
    assert first_acked.wait(60)
    joiner = members("joiner")  # joins while the first is ingesting
    stream.wait_shared(first, joiner)
    feeder.join(120)
    feeder, first_acked = stream.feeder(phase2)
    assert first_acked.wait(60)
    assert joiner.stop() == 0, joiner.tail()  # leaves mid-stream: the first takes all
    feeder.join(120)
    assert not feeder.is_alive()

    stream.wait_consumed(first)
    assert stream.verdict(originals, len(phase1) + len(phase2)) == {}
