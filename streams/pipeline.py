"""The pure steps of ingest: parse -> validate -> pseudonymise, and the raw-message key.

No I/O here: the ingest stream (:mod:`streams.ingest`) feeds bytes in and sends what comes out,
so these steps are tested without a broker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

import orjson

from events.envelope import parse_event
from events.errors import EventRejectedError
from events.privacy import pseudonymised_json
from events.regions import RegionReference


@dataclass(frozen=True)
class Accepted:
    """A valid, pseudonymised event ready for ``eams.events``."""

    event_id: UUID
    event_type: str
    key: bytes
    value: bytes
    masked: int = 0  # IDs and mobile numbers masked outside the named fields


@dataclass(frozen=True)
class Rejected:
    """An input that cannot enter the log; ``reason`` names the field and what was expected."""

    field: str
    reason: str


#: Event types EAMS decides itself (one writer each): a source system may not append them.
SYSTEM_PREFIXES = (
    "alert.",
    "notification.",
    "silence.",
    "playbook.",
    "risk.",
    "temporary_assistance.",
    "job_fair.",
    "audit.",
)


def process_raw(
    raw: bytes, *, reference: RegionReference, secret: bytes, line: int | None = None
) -> Accepted | Rejected:
    """Validate and pseudonymise one raw input; never raises for bad input."""
    try:
        envelope = parse_event(raw, reference=reference, line=line)
    except EventRejectedError as exc:
        return Rejected(field=exc.field, reason=str(exc))
    if envelope.event_type.startswith(SYSTEM_PREFIXES):
        where = f"line {line}: " if line is not None else ""
        return Rejected(
            field="event_type",
            reason=f"{where}event_type: {envelope.event_type!r} is recorded by EAMS itself "
            "(alerts, notifications, silences, playbook runs, risk levels); use the API or "
            "CLI command that decides it (e.g. eams alerts ack, eams playbooks activate)",
        )
    if envelope.source.startswith("eams."):
        where = f"line {line}: " if line is not None else ""
        return Rejected(
            field="source",
            reason=f"{where}source: {envelope.source!r} is reserved for EAMS's own components; "
            "name your system (e.g. civil-affairs)",
        )
    key, value, masked = pseudonymised_json(envelope, secret)
    return Accepted(
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        key=key,
        value=value,
        masked=masked,
    )


def raw_key(raw: bytes) -> bytes:
    """Partition key for ``eams.ingest.raw``: the event id, so a resubmission lands on the
    same partition as the original (the ingest dedupe table is partitioned the same way).
    Unparsable bytes get a digest of themselves (they will be dead-lettered anyway)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        event_id = doc.get("event_id")
        if isinstance(event_id, str) and event_id:
            return event_id.lower().encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest().encode()
