"""The quarantine: events of the log that could not be projected, parked with the reason.

An event in ``eams.events`` is there for good; if the projector cannot write it (a value
its column cannot hold, a document it cannot read, rows ClickHouse refused), stopping would
stop every projection behind it, and a restart would replay the same range and stop again.
So the projector isolates the offending events (:func:`insert_isolating` bisects a refused
batch down to the rows that fail on their own), parks them here and goes on.

``eams quarantine list`` shows what is parked and why; after a fix (a migration that widens
a column, a corrected converter), ``eams quarantine retry`` projects each parked event once:
a retry first looks the event up in ``events``, so a retry repeated after a crash, or of an
event whose duplicate was projected meanwhile, writes nothing twice.

The table survives ``eams rebuild`` (:data:`projections.migrations.KEPT`); a rebuild that
meets a still-unprojectable event parks it again under the same log position.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from events.clock import SHANGHAI
from projections.client import Store, aware
from projections.errors import StoreRefusedError

TABLE = "quarantine"
PARKED = "parked"
PROJECTED = "projected"

_COLUMNS = (
    "topic", "partition", "offset", "event_id", "event_type", "region", "field", "error",
    "value_b64", "status", "attempts", "quarantined_at", "updated_at", "updated_by",
)  # fmt: skip


@dataclass(frozen=True)
class Parked:
    """One quarantined event: where it is in the log, what it is, and why it was parked."""

    topic: str
    partition: int
    offset: int
    event_id: str
    event_type: str
    region: str
    field: str
    error: str
    value: bytes
    status: str = PARKED
    attempts: int = 0
    quarantined_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    updated_by: str = "projector"

    @property
    def ref(self) -> str:
        """How the CLI names an entry: ``partition:offset``."""
        return f"{self.partition}:{self.offset}"

    def summary(self) -> dict[str, Any]:
        """The entry as the API shows it (no value: that stays in the store)."""
        return {
            "ref": self.ref,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "region": self.region,
            "field": self.field,
            "error": self.error,
            "status": self.status,
            "attempts": self.attempts,
            "quarantined_at": self.quarantined_at,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


def describe(value: bytes) -> tuple[str, str, str]:
    """``(event_id, event_type, region)`` of a record, as far as it can be read."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return "", "", ""
    if not isinstance(doc, dict):
        return "", "", ""
    return tuple(str(doc.get(k) or "")[:64] for k in ("event_id", "event_type", "region"))  # type: ignore[return-value]


def parked_record(
    topic: str, partition: int, offset: int, value: bytes, field: str, error: str
) -> Parked:
    """A quarantine entry for the record at ``topic:partition:offset``."""
    event_id, event_type, region = describe(value)
    return Parked(topic, partition, offset, event_id, event_type, region, field, error, value)


def park(store: Store, entries: Sequence[Parked], *, by: str = "projector") -> None:
    """Write (or rewrite) entries; the latest write of a log position wins."""
    if not entries:
        return
    now = dt.datetime.now(SHANGHAI)
    store.insert(
        TABLE,
        [
            (
                e.topic,
                e.partition,
                e.offset,
                e.event_id,
                e.event_type,
                e.region,
                e.field,
                e.error[:2000],
                base64.b64encode(e.value).decode(),
                e.status,
                e.attempts,
                e.quarantined_at or now,
                now,
                by,
            )  # fmt: skip
            for e in entries
        ],
        _COLUMNS,
    )


def entries(
    store: Store, *, status: str | None = PARKED, refs: Sequence[str] = (), limit: int = 1000
) -> list[Parked]:
    """Quarantined entries in log order, by status and/or ``partition:offset`` refs."""
    where = ["1"]
    params: dict[str, Any] = {"n": limit}
    if status:
        where.append("status = {s:String}")
        params["s"] = status
    if refs:
        pairs = [_ref(r) for r in refs]
        where.append("(partition, offset) IN {refs:Array(Tuple(UInt16, UInt64))}")
        params["refs"] = pairs
    rows = store.rows(
        f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} FINAL WHERE {' AND '.join(where)} "
        "ORDER BY partition, offset LIMIT {n:UInt64}",
        params,
    )
    return [_entry(row) for row in rows]


def counts(store: Store) -> dict[str, int]:
    """Entries per status (``{"parked": 2, "projected": 5}``)."""
    rows = store.rows(f"SELECT status, count() FROM {TABLE} FINAL GROUP BY status")
    return {str(status): int(n) for status, n in rows}


def projected_already(store: Store, event_id: str, event_type: str, region: str) -> bool:
    """Whether ``events`` holds this event id (its type and region narrow the lookup to the
    table's primary key)."""
    try:
        UUID(event_id)
    except ValueError:
        return False
    found = store.scalar(
        "SELECT count() FROM events WHERE event_type = {t:String} AND region = {r:String} "
        "AND event_id = {e:UUID}",
        {"t": event_type, "r": region, "e": event_id},
    )
    return bool(found)


def insert_isolating(
    store: Store,
    table: str,
    rows: list[tuple[Any, ...]],
    names: Sequence[str],
    token: str,
    settings: dict[str, Any],
) -> list[tuple[tuple[Any, ...], StoreRefusedError]]:
    """Insert ``rows`` in one block with deduplication ``token``; if ClickHouse refuses the
    block for its data, split it in halves (tokens ``token/0`` and ``token/1``) and insert
    each, down to single rows. Returns the rows refused on their own, with why.

    Deterministic: the same rows meet the same refusals and the same tokens, so a replay
    after a crash in the middle skips the halves already written. An unreachable store
    (:class:`StoreUnavailableError`) is raised, not bisected: retrying later is right.
    """
    try:
        columns = list(zip(*rows, strict=True))
        with_token = {**settings, "insert_deduplication_token": token}
        store.insert_columns(table, columns, names, with_token)
        return []
    except StoreRefusedError as exc:
        if len(rows) == 1:
            return [(rows[0], exc)]
    mid = len(rows) // 2
    return insert_isolating(
        store, table, rows[:mid], names, f"{token}/0", settings
    ) + insert_isolating(store, table, rows[mid:], names, f"{token}/1", settings)


def _ref(ref: str) -> tuple[int, int]:
    partition, _, offset = ref.partition(":")
    if not (partition.isdigit() and offset.isdigit()):
        raise ValueError(f"expected an entry as PARTITION:OFFSET (e.g. 0:42), got {ref!r}")
    return int(partition), int(offset)


def _entry(row: tuple[Any, ...]) -> Parked:
    (topic, partition, offset, event_id, event_type, region, field, error, value_b64, status,
     attempts, quarantined_at, updated_at, updated_by) = row  # fmt: skip
    return Parked(
        str(topic), int(partition), int(offset), str(event_id), str(event_type), str(region),
        str(field), str(error), base64.b64decode(value_b64), str(status), int(attempts),
        aware(quarantined_at), aware(updated_at), str(updated_by),
    )  # fmt: skip
