"""One person's events, as the log holds them, read back from the ``events`` table.

``explain`` (:mod:`cases.explain`) replays a person's decisions from their events in log
order; once ``eams run`` owns the embedded engine nothing else may read the topic's
history quickly, so the API reads the projected copy: the ``events`` table keeps every
envelope column and the payload as JSON, so each row becomes the
:class:`~events.envelope.Envelope` it was (older schema versions upcast on the way).

The table is ordered by ``(event_type, region, occurred_at, event_id)``, which a lookup by
aggregate id cannot use. The person's timeline (``case_timeline``, keyed by person) says
which event types, regions and times their events have; the read of ``events`` is then
bounded by those, so it touches the granules of this person's types, regions and period
instead of the whole log.

A person's stream is one partition (the key is the pseudonym), so its offsets are its
order. The read is bounded: at most ``limit`` events, the earliest first, and
:attr:`PersonLog.truncated` says when more exist (a replay of a cut log must say so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from events.envelope import Envelope
from events.errors import EventRejectedError
from projections.client import Store, aware
from projections.errors import ProjectionError

__all__ = ["DEFAULT_LIMIT", "PersonLog", "person_log"]

#: The most events of one person read at once (a case of many years has a few hundred).
DEFAULT_LIMIT = 5000

_BOUNDS = """
SELECT groupUniqArray(event_type) AS types, groupUniqArray(region) AS regions,
       min(occurred_at) AS first_at, max(occurred_at) AS last_at, uniqExact(event_id) AS events
FROM case_timeline WHERE person_id = {p:String}
"""

_EVENTS = """
SELECT event_id, event_type, schema_version, occurred_at, recorded_at, region, aggregate_id,
       source, actor, correlation_id, causation_id, payload, kafka_partition, kafka_offset
FROM events
WHERE event_type IN {types:Array(String)} AND region IN {regions:Array(String)}
  AND occurred_at BETWEEN {first:DateTime64(3, 'Asia/Shanghai')}
                      AND {last:DateTime64(3, 'Asia/Shanghai')}
  AND aggregate_id = {p:String}
ORDER BY kafka_partition, kafka_offset
LIMIT 1 BY event_id
LIMIT {n:UInt32}
"""


@dataclass(frozen=True)
class PersonLog:
    """The events of one person in log order (at most the limit), and whether more exist."""

    person_id: str
    events: tuple[Envelope, ...]
    """In log order."""
    total: int
    """How many events the person has in the projection."""
    limit: int

    @property
    def truncated(self) -> bool:
        """Whether the log was cut at the limit (later events were not read)."""
        return self.total > len(self.events)


def _envelope(row: dict[str, Any]) -> Envelope:
    """The envelope a row of ``events`` was (upcast to the current schema version)."""
    doc = {
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "schema_version": int(row["schema_version"]),
        "occurred_at": aware(row["occurred_at"]),
        "recorded_at": aware(row["recorded_at"]),
        "region": row["region"],
        "aggregate_id": row["aggregate_id"] or None,
        "source": row["source"],
        "actor": row["actor"],
        "correlation_id": row["correlation_id"] or None,
        "causation_id": row["causation_id"] or None,
        "payload": orjson.loads(row["payload"]),
    }
    try:
        return Envelope.model_validate(doc)
    except (EventRejectedError, ValidationError) as exc:  # the log took it: it must read back
        raise ProjectionError(
            f"event {doc['event_id']} ({doc['event_type']}, partition "
            f"{row['kafka_partition']} offset {row['kafka_offset']}) of {row['aggregate_id']} "
            f"does not read back as an event: {exc}; rebuild the projections (`eams rebuild`)"
        ) from exc


def person_log(store: Store, person_id: str, limit: int = DEFAULT_LIMIT) -> PersonLog:
    """The events of ``person_id`` (their pseudonym) in log order, at most ``limit`` of them
    (the earliest); none when the projection knows nothing of the person."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    [bounds] = store.dicts(_BOUNDS, {"p": person_id})
    total = int(bounds["events"])
    if total == 0:
        return PersonLog(person_id, (), 0, limit)
    rows = store.dicts(
        _EVENTS,
        {
            "p": person_id,
            "types": list(bounds["types"]),
            "regions": list(bounds["regions"]),
            "first": aware(bounds["first_at"]),
            "last": aware(bounds["last_at"]),
            "n": limit,
        },
    )
    return PersonLog(person_id, tuple(_envelope(r) for r in rows), total, limit)
