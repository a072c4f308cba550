"""The Faust app and its ingest agent: ``eams.ingest.raw`` -> ``eams.events`` | ``eams.events.dlq``.

Per raw message, in order:

1. parse and validate (pydantic), pseudonymise the person fields (:mod:`streams.pipeline`);
2. a rejected input goes to the dead-letter topic with its original bytes and the reason;
3. dedupe by ``event_id`` in a Faust table (changelog-backed, so it survives restarts);
4. append the event to ``eams.events`` keyed by its aggregate id.

Delivery is at least once: Faust flushes the producer before it commits the raw offset.
The dedupe table remembers *where* an event id was first seen (raw partition:offset), so
re-processing that same raw message after a crash re-emits it instead of dropping it as a
duplicate; the event log may then hold the event twice, which every consumer absorbs by
``event_id``. An event is never lost between the dedupe mark and the append.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust

from eams.settings import Settings
from events.regions import load_reference
from streams import topics
from streams.dlq import dlq_headers
from streams.pipeline import Accepted, process_raw


@dataclass
class IngestStats:
    """Counters of the ingest agent, shown by ``/api/status``."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


def _raw_topic(app: faust.App, name: str, partitions: int) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def create_app(settings: Settings) -> tuple[faust.App, IngestStats]:
    """Build the Faust app with the ingest agent wired to the configured broker."""
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        web_enabled=False,
        processing_guarantee="at_least_once",
        broker_commit_every=5000,
        broker_commit_interval=1.0,
        producer_linger_ms=5,
        producer_max_batch_size=512 * 1024,
        stream_buffer_maxsize=16384,
        consumer_auto_offset_reset="earliest",
        # A worker killed without leaving the group holds its partitions until the session
        # times out; keep that short so a restart resumes within seconds, not a minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=20.0,
        table_cleanup_interval=3600.0,
        key_serializer="raw",  # tables use the app's serializers: ids and marks are bytes
        value_serializer="raw",
    )
    stats = IngestStats()
    reference = load_reference(settings.region_hierarchy)
    secret = settings.secret()

    raw = _raw_topic(app, topics.INGEST_RAW, settings.topic_partitions)
    out = _raw_topic(app, topics.EVENTS, settings.topic_partitions)
    dlq = _raw_topic(app, topics.DLQ, settings.topic_partitions)
    seen = app.Table(
        "ingest-seen-event-ids",
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topic_partitions,
    )

    @app.agent(raw, name="eams.ingest")  # type: ignore[untyped-decorator]
    async def ingest(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            origin = f"{message.topic}:{message.partition}:{message.offset}"
            hdrs = event.headers
            source = topics.header(hdrs, topics.H_SOURCE) or "unknown"
            line = topics.header(hdrs, topics.H_LINE)
            value = event.value if isinstance(event.value, bytes) else bytes(event.value)
            result = process_raw(
                value,
                reference=reference,
                secret=secret,
                line=int(line) if line and line.isdigit() else None,
            )
            if not isinstance(result, Accepted):
                stats.rejected += 1
                await dlq.send(
                    key=message.key,
                    value=value,
                    headers=dlq_headers(result.reason, result.field, source, origin, line),
                )
                continue
            mark = f"{message.partition}:{message.offset}".encode()
            first = seen.get(result.event_id.bytes)
            if first is not None and first != mark:
                stats.duplicates += 1
                continue
            if first is None:
                seen[result.event_id.bytes] = mark
            await out.send(key=result.key, value=result.value)
            stats.accepted += 1
            stats.by_type[result.event_type] = stats.by_type.get(result.event_type, 0) + 1

    return app, stats
