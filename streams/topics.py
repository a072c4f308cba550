"""Topic names and their creation; every topic is created before anything uses it.

The broker runs with ``auto.create.topics.enable=false`` so that a typo in a topic name
fails loudly instead of creating a new, empty log.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

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

    @classmethod
    def for_namespace(cls, namespace: str = "eams") -> TopicNames:
        """The topic names under ``namespace``."""
        return cls(
            ingest_raw=f"{namespace}.ingest.raw",
            events=f"{namespace}.events",
            dlq=f"{namespace}.events.dlq",
            commands=f"{namespace}.commands",
        )

    def all(self) -> tuple[str, ...]:
        """Every topic of the namespace."""
        return (self.ingest_raw, self.events, self.dlq, self.commands)


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

# The event log is the source of truth: never delete from it.
_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


async def ensure_topics(kafka: KafkaAccess, partitions: int, names: TopicNames) -> None:
    """Create the EAMS topics if missing (idempotent)."""
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, 1, topic_configs=_FOREVER)
            for name in names.all()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


def header(headers: object, name: str) -> str | None:
    """The value of header ``name`` in a Kafka message's header sequence, decoded."""
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:  # type: ignore[attr-defined]
        if key == name:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None
