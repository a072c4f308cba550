"""Command handling: round trip and fold, against a raw Kafka round trip on the same broker.

    .venv/bin/python benchmarks/commands.py [--commands 2000] [--log 200000] [--bootstrap HOST:PORT]

What it measures, in one run on one broker and a fresh namespace:

1. **commands**: a :class:`~streams.commands.CommandHandler` (alerts, silences) runs in this
   process; a :class:`~streams.commands.CommandBus` sends N alert commands (raise, then
   acknowledge, over N/2 alerts), 50 in flight at a time, and waits for every outcome.
   Printed: commands/s and the round-trip latency (send → outcome) p50, p99.
2. **baseline**: the same number of records, 50 in flight, produced to a topic and read
   back by a consumer in this process: the raw Kafka round trip the command path adds its
   work to (two produces, a group consumer, the decision, the commit).
3. **fold**: the namespace's event log is filled with ``--log`` events, 1 % of them alert
   events, the rest layoff reports (which the handler skips without parsing them); a new handler
   is started and the time to its first assignment being folded is measured.
   Printed: events/s folded, and the same log read by a bare consumer (baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from common import broker  # (puts the project on sys.path)

from alerting.lifecycle import AlertAggregate  # noqa: E402
from alerting.silencing import SilenceAggregate  # noqa: E402
from eams.broker import ensure_namespace  # noqa: E402
from eams.settings import Settings  # noqa: E402
from events.envelope import internal_event  # noqa: E402
from events.regions import load_reference  # noqa: E402
from streams.commands import CommandBus, CommandHandler  # noqa: E402

REFERENCE = load_reference("shandong")
IN_FLIGHT = 50


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def commands(settings: Settings, n: int) -> tuple[float, list[float]]:
    handler = CommandHandler(
        settings.kafka("stream"),
        settings.topics,
        [AlertAggregate(), SilenceAggregate(REFERENCE)],
        REFERENCE,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(handler.run(stop))
    bus = CommandBus(settings.kafka("stream"), settings.topics, source="benchmark")
    await bus.start()
    await handler.ready.wait()
    alerts = [f"bench:3713{i % 20:02d}:{i:08d}" for i in range(n // 2)]
    todo = [
        bus.command(
            "alert.raise",
            a,
            actor="eams.alerting",
            payload={
                "rule": "bench",
                "region": f"3713{(i % 20) + 1:02d}",
                "level": "III",
                "summary": "benchmark",
                "at": "2026-07-01T09:00:00+08:00",
            },
        )
        for i, a in enumerate(alerts)
    ] + [bus.command("alert.acknowledge", a, actor="duty-a") for a in alerts]
    latencies: list[float] = []
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(command: object) -> None:
        async with gate:
            t = time.perf_counter()
            outcome = await bus.send(command)  # type: ignore[arg-type]
            latencies.append(time.perf_counter() - t)
            assert outcome.accepted, outcome

    start = time.perf_counter()
    # raises before acknowledgements: each alert's two commands are on one partition anyway
    await asyncio.gather(*(one(c) for c in todo[: len(alerts)]))
    await asyncio.gather(*(one(c) for c in todo[len(alerts) :]))
    elapsed = time.perf_counter() - start
    await bus.stop()
    stop.set()
    await task
    return len(todo) / elapsed, latencies


async def baseline(settings: Settings, n: int) -> tuple[float, list[float]]:
    """Produce a record, read it back through a group consumer: 50 in flight."""
    access = settings.kafka("admin")
    topic = f"{settings.namespace}.bench-baseline"
    admin = AIOKafkaAdminClient(**access.client_options())
    await admin.start()
    await admin.create_topics([NewTopic(topic, settings.topic_partitions, 1)])
    await admin.close()
    producer = AIOKafkaProducer(**access.client_options(), enable_idempotence=True)
    consumer = AIOKafkaConsumer(
        topic, **access.client_options(), group_id=f"{topic}.g", auto_offset_reset="latest"
    )
    await producer.start()
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    for tp in consumer.assignment():
        await consumer.position(tp)
    waiting: dict[bytes, asyncio.Future[None]] = {}

    async def read() -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                for r in records:
                    f = waiting.pop(r.key or b"", None)
                    if f is not None and not f.done():
                        f.set_result(None)
                await consumer.commit()

    reader = asyncio.create_task(read())
    latencies: list[float] = []
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with gate:
            key = uuid.uuid4().bytes
            f = asyncio.get_running_loop().create_future()
            waiting[key] = f
            t = time.perf_counter()
            await producer.send_and_wait(topic, b"x" * 300, key=key)
            await f
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    reader.cancel()
    await producer.stop()
    await consumer.stop()
    return n / elapsed, latencies


async def fold(settings: Settings, size: int) -> tuple[float, float, int]:
    """Fill the log, then time a new handler's first fold and a bare read of the same log."""
    producer = AIOKafkaProducer(**settings.kafka("stream").client_options(), linger_ms=20)
    await producer.start()
    for i in range(size):
        if i % 100 == 0:
            alert = f"fold:371302:{i:08d}"
            e = internal_event(
                "alert.raised",
                region="371302",
                aggregate_id=alert,
                actor="eams.alerting",
                source="bench",
                payload={"alert_id": alert, "rule": "fold", "level": "III", "summary": "fold"},
            )
        else:
            e = internal_event(
                "layoff.reported",
                region="371302",
                aggregate_id=f"e{i}",
                actor="a",
                source="bench",
                payload={"enterprise_name": f"厂{i}", "laid_off": 3},
            )
        await producer.send(
            settings.topics.events, e.to_json(), key=(e.aggregate_id or "").encode()
        )
    await producer.stop()
    handler = CommandHandler(
        settings.kafka("stream"),
        settings.topics,
        [AlertAggregate()],
        REFERENCE,
        group=f"{settings.namespace}.fold-bench",
    )
    stop = asyncio.Event()
    start = time.perf_counter()
    task = asyncio.create_task(handler.run(stop))
    await handler.ready.wait()
    folded = time.perf_counter() - start
    aggregates = handler.stats.aggregates
    stop.set()
    await task
    consumer = AIOKafkaConsumer(**settings.kafka("stream").client_options())
    await consumer.start()
    tps = [TopicPartition(settings.topics.events, p) for p in range(settings.topic_partitions)]
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    for tp, s in (await consumer.beginning_offsets(tps)).items():
        consumer.seek(tp, s)
    start = time.perf_counter()
    while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
        await consumer.getmany(timeout_ms=200, max_records=5000)
    read = time.perf_counter() - start
    await consumer.stop()
    return size / folded, size / read, aggregates


async def measure(args: argparse.Namespace, settings: Settings) -> None:
    await ensure_namespace(settings)
    rate, lat = await commands(settings, args.commands)
    base, base_lat = await baseline(settings, args.commands)
    print(
        f"commands: {args.commands:,}, {IN_FLIGHT} in flight: {rate:,.0f} commands/s, "
        f"round trip p50 {_pct(lat, 50) * 1000:,.1f} ms, p99 {_pct(lat, 99) * 1000:,.1f} ms"
    )
    print(
        f"baseline: produce + group read of {args.commands:,}: {base:,.0f} records/s, "
        f"p50 {_pct(base_lat, 50) * 1000:,.1f} ms, p99 {_pct(base_lat, 99) * 1000:,.1f} ms"
    )
    print(f"ratio commands/baseline: {rate / base:.2f}")
    folded, read, aggregates = await fold(settings, args.log)
    print(
        f"fold: {args.log:,} events ({aggregates:,} alerts) folded at {folded:,.0f} events/s; "
        f"a bare read of the log {read:,.0f} events/s; ratio {folded / read:.2f}"
    )


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cluster, local = broker(Path(tmp), args.bootstrap)  # started outside the event loop
        try:
            fields = {k.removeprefix("EAMS_").lower(): v for k, v in cluster.kafka_env().items()}
            settings = Settings(
                **fields,  # type: ignore[arg-type]
                state_dir=Path(tmp) / "state",
                namespace=f"bench-{uuid.uuid4().hex[:6]}",
            )
            asyncio.run(measure(args, settings))
        finally:
            if local is not None:
                local.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=2000, help="commands to send (even)")
    parser.add_argument("--log", type=int, default=200_000, help="events in the log to fold")
    parser.add_argument("--bootstrap", help="an external broker (default: start the local one)")
    main(parser.parse_args())
