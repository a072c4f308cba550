"""Topic names and their creation; every topic is created before anything uses it.

The broker runs with ``auto.create.topics.enable=false`` so that a typo in a topic name
fails loudly instead of creating a new, empty log.

What each topic keeps (:func:`topic_configs`; applied when a topic is created, and to an
existing topic at every start, so an upgraded install changes too):

- ``<ns>.events`` and ``<ns>.commands``: forever (the event log is the source of truth);
- ``<ns>.commands.outcomes``: an hour (a caller waits seconds for its command's outcome; a
  retried command is answered again from the aggregate's state);
- ``<ns>.ingest.raw``: ``EAMS_RAW_RETENTION_HOURS`` (default 24 h). It holds inputs as they
  came, national IDs in clear, and nothing needs it once the stream has consumed them: the
  dedupe marks live on ``<ns>.events``. Segments roll every hour at most (a quarter of the
  retention for short ones) so an old segment is closed and deleted, not kept growing;
- ``<ns>.events.dlq``: compacted, keyed by entry id, so a replayed entry is purged by a
  tombstone (its values are sealed, see :mod:`streams.dlq`); segments roll daily so the
  cleaner reaches purged entries, and a tombstone is compacted away within a day.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from streams.errors import TopicConfigError
from streams.kafka import KafkaAccess


@dataclass(frozen=True)
class TopicNames:
    """The topics of one EAMS namespace (``eams`` by default: ``eams.events`` …).

    A namespace lets several independent pipelines share one broker (tests do).
    """

    ingest_raw: str
    events: str
    dlq: str
    commands: str
    outcomes: str

    @classmethod
    def for_namespace(cls, namespace: str = "eams") -> TopicNames:
        """The topic names under ``namespace``."""
        return cls(
            ingest_raw=f"{namespace}.ingest.raw",
            events=f"{namespace}.events",
            dlq=f"{namespace}.events.dlq",
            commands=f"{namespace}.commands",
            outcomes=f"{namespace}.commands.outcomes",
        )

    def all(self) -> tuple[str, ...]:
        """Every topic of the namespace."""
        return (self.ingest_raw, self.events, self.dlq, self.commands, self.outcomes)


#: Header names carried by raw and dead-lettered messages.
H_SOURCE = "eams-source"
H_LINE = "eams-line"
H_REASON = "eams-reason"
H_FIELD = "eams-field"
H_REJECTED_AT = "eams-rejected-at"
H_ORIGIN = "eams-origin"
H_REPLAY_OF = "eams-replay-of"
H_EVENT_ID = "eams-event-id"  # on eams.events: the event id (16 bytes)
H_RAW_MARK = "eams-raw-mark"  # on eams.events: raw partition:offset it was appended from
H_TRUNCATED_FROM = "eams-truncated-from"  # on a dead letter kept in part: the input's size
#: How much of an input too large for the dead-letter topic is kept (with size and digest).
STUB_BYTES = 64 * 1024

log = logging.getLogger(__name__)

# The event log is the source of truth: never delete from it.
_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
HOUR_MS = 3_600_000
#: The default retention of the raw topic (EAMS_RAW_RETENTION_HOURS).
RAW_RETENTION_MS = 24 * HOUR_MS
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself
_UNKNOWN_TOPIC = 3  # UNKNOWN_TOPIC_OR_PARTITION


def topic_configs(names: TopicNames, raw_retention_ms: int) -> dict[str, dict[str, str]]:
    """What each topic of the namespace keeps (see the module docstring)."""
    if raw_retention_ms < 1000:
        raise TopicConfigError(
            f"the raw topic's retention must be at least 1 s, got {raw_retention_ms} ms "
            "(EAMS_RAW_RETENTION_HOURS)"
        )
    raw = {
        "cleanup.policy": "delete",
        "retention.ms": str(raw_retention_ms),
        "retention.bytes": "-1",
        "segment.ms": str(min(HOUR_MS, max(100, raw_retention_ms // 4))),
    }
    dlq = {
        "cleanup.policy": "compact",
        "segment.ms": str(24 * HOUR_MS),
        "max.compaction.lag.ms": str(24 * HOUR_MS),
        "delete.retention.ms": str(24 * HOUR_MS),
        "min.cleanable.dirty.ratio": "0.01",
    }
    forever = {"cleanup.policy": "delete", **_FOREVER}
    outcomes = {
        "cleanup.policy": "delete",
        "retention.ms": str(HOUR_MS),
        "segment.ms": str(HOUR_MS),
    }
    return {
        names.ingest_raw: raw,
        names.events: forever,
        names.dlq: dlq,
        names.commands: forever,
        names.outcomes: outcomes,
    }


def replication(brokers: int, replicas: int | None = None, min_insync: int | None = None
                ) -> tuple[int, int]:  # fmt: skip
    """(replicas, min.insync.replicas) of a topic on a cluster of ``brokers``: three
    replicas, two of them in sync for a write (``acks=all``) to count, so one broker can
    fail without a write lost or refused; fewer on a smaller cluster. Given values win, but
    never more replicas than brokers nor more in sync than replicas."""
    rf = replicas if replicas is not None else min(3, brokers)
    if rf > brokers:
        raise TopicConfigError(
            f"{rf} replicas asked (EAMS_TOPIC_REPLICATION) but the cluster has {brokers} "
            "broker(s): ask for at most that many, or add brokers"
        )
    isr = min_insync if min_insync is not None else (2 if rf >= 3 else 1)
    if isr > rf:
        raise TopicConfigError(
            f"min.insync.replicas {isr} (EAMS_TOPIC_MIN_INSYNC) is more than the {rf} "
            "replicas: no write could ever be acknowledged"
        )
    return rf, isr


async def ensure_topics(
    kafka: KafkaAccess,
    partitions: int,
    names: TopicNames,
    *,
    raw_retention_ms: int = RAW_RETENTION_MS,
    replicas: int | None = None,
    min_insync: int | None = None,
) -> None:
    """Create the EAMS topics if missing, and give existing ones the configuration of
    :func:`topic_configs` (idempotent; other settings made on a topic by hand are kept).
    Replicas as :func:`replication` says for the cluster's brokers; an existing topic keeps
    its replicas (reassigning them is an operator's ``kafka-reassign-partitions``) and is
    given the ``min.insync.replicas`` it can hold."""
    wanted = topic_configs(names, raw_retention_ms)
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"])
        rf, isr = replication(brokers, replicas, min_insync)
        wanted = {n: c | {"min.insync.replicas": str(isr)} for n, c in wanted.items()}
        existing = set(await admin.list_topics())
        for name in names.all():
            if name in existing:
                continue
            try:  # one at a time: a topic the listing missed (just created) is told apart
                new = NewTopic(name, partitions, rf, topic_configs=wanted[name])
                await admin.create_topics([new])
            except TopicAlreadyExistsError:
                existing.add(name)  # it exists after all: it is brought in line below
        await _align(admin, {n: c for n, c in wanted.items() if n in existing})
    finally:
        await admin.close()


async def describe_topic_configs(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, dict[str, tuple[str | None, bool]]]:
    """Topic -> config name -> (value, set on the topic itself rather than a default)."""
    if not names:
        return {}
    for attempt in range(50):
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
        found: dict[str, dict[str, tuple[str | None, bool]]] = {}
        errors: list[tuple[str, int, str]] = []
        for response in responses:
            for error, message, _kind, name, entries in response.resources:
                if error:
                    errors.append((name, error, message))
                else:
                    found[name] = {e[0]: (e[1], e[3] == _DYNAMIC_TOPIC_CONFIG) for e in entries}
        if not errors:
            return found
        if any(code != _UNKNOWN_TOPIC for _n, code, _m in errors) or attempt == 49:
            name, code, message = errors[0]
            raise TopicConfigError(
                f"describing the configuration of {name}: error {code} {message}".strip()
            )
        await asyncio.sleep(0.1)  # a topic created a moment ago is not known everywhere yet
    raise AssertionError("unreachable")


async def _align(admin: AIOKafkaAdminClient, wanted: dict[str, dict[str, str]]) -> None:
    """Alter the topics whose configuration differs from ``wanted``. AlterConfigs replaces
    a topic's whole dynamic configuration, so the settings made on it otherwise are sent
    again unchanged."""
    current = await describe_topic_configs(admin, sorted(wanted))
    changes = []
    for name, configs in wanted.items():
        have = current.get(name, {})
        if all(have.get(k, (None, False))[0] == v for k, v in configs.items()):
            continue
        kept = {k: v for k, (v, dynamic) in have.items() if dynamic and v is not None}
        changes.append(ConfigResource(ConfigResourceType.TOPIC, name, configs=kept | configs))
        log.warning("topic %s: configuration changed to %s", name, configs)
    if not changes:
        return
    for response in await admin.alter_configs(changes):
        for error, message, _kind, name in response.resources:
            if error:
                raise TopicConfigError(
                    f"changing the configuration of {name}: {message} (error {error}); "
                    "the admin principal needs ALTER_CONFIGS on the topic"
                )


async def log_ends(kafka: KafkaAccess, topic: str) -> dict[int, int]:
    """The end offset of each partition of ``topic`` now (none: no such topic)."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - metadata only
        tps = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(tps) if tps else {}
        return {tp.partition: int(end) for tp, end in ends.items()}
    finally:
        await consumer.stop()


async def topic_has_records(kafka: KafkaAccess, topic: str) -> bool:
    """True when anything was ever appended to ``topic`` (an end offset above 0)."""
    return any(end > 0 for end in (await log_ends(kafka, topic)).values())


def header(headers: object, name: str) -> str | None:
    """The value of header ``name`` in a Kafka message's header sequence, decoded."""
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:  # type: ignore[attr-defined]
        if key == name:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None
