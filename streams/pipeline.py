"""The pure steps of ingest: parse -> bind to the principal -> validate -> authorize ->
pseudonymise, and the raw-message key.

No I/O here: the API answers with :func:`process_raw` and the ingest stream
(:mod:`streams.ingest`) enforces with the same function, so what the API accepts is what
the stream accepts (one source of truth); both are tested without a broker.

With a principal (:class:`streams.principal.Submitter`) an input is bound to who submitted it:

- ``source`` and ``actor`` come from the principal, not the body: a user's actor is their
  name and their source ``user:<name>``; an API key's source is its name (the actor is the
  source system's own, defaulting to that name). A body naming a different one is rejected
  naming the field; a body leaving it out gets it filled in, before pseudonymisation, so the
  stored event carries it. The operator and importers act for others and keep the body's.
- ``region`` and every ``payload.regions`` code must lie within the principal's regions (a
  code is in scope when it or its city is one of them); no regions = everywhere.
- an API key may send only its allowed event types (none listed = every source type).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from pydantic import TypeAdapter, ValidationError

from events.clock import SHANGHAI
from events.envelope import Envelope, parse_event
from events.errors import EventRejectedError
from events.privacy import pseudonymised_json
from events.regions import RegionReference
from streams.principal import Submitter


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
    # decided by a person's case and a household (cases/): ownership, the visit schedule,
    # refusals, what a household was told and its escalation. Recognitions, revocations and
    # a household's identification and clearing stay open to sources (a city's own system
    # before EAMS); explain shows such a decision as made outside EAMS's rules
    "case.",
    "visit.scheduled",
    "person.recognition_refused",
    "household.member_joined",
    "household.clearing_overdue",
    # decided by a person's case (subsidies/): a check, an approval or refusal, an
    # entitlement, a payment and a recovery. An application may come from a source (a
    # city's online portal): it is checked and approved here like one an officer entered
    "subsidy.checked",
    "subsidy.approved",
    "subsidy.rejected",
    "subsidy.entitled",
    "subsidy.stopped",
    "subsidy.recovery_ordered",
    "subsidy.paid",
    "subsidy.recovered",
    "subsidy.recovery_cancelled",
    # decided by a payment batch (subsidies/batches.py): its lines, export and the bank's return
    "payment_batch.",
    # decided by a fraud case (subsidies/fraud.py): the rules' suspicions and their handling
    "fraud.",
    # decided by the performance evaluation (subsidies/evaluation.py): a period frozen
    "evaluation.",
    # decided by a public-welfare post and the person's case (subsidies/posts.py): the
    # opening, the slots, the assignment, the attendance and the leaving
    "welfare_post.",
)
#: How far ahead of now an ``occurred_at`` may lie (clock skew of senders).
DEFAULT_FUTURE_SKEW = dt.timedelta(minutes=10)

#: The largest input one event may take, in bytes. A bounded event is far smaller (its
#: strings and lists are bounded: see ``events.payload_base``); the limit stops the bytes
#: around it (whitespace is valid JSON) and keeps every raw record, and its dead letter, well
#: under what the broker accepts per record (``message.max.bytes``, 1 MiB by default).
MAX_INPUT_BYTES = 512 * 1024
#: The reason of a raw record that carries no valid signature.
NOT_SIGNED = "not submitted through the API or the importer"


def unsigned(line: int | None = None) -> Rejected:
    """The rejection of a raw record without a valid principal signature."""
    where = f"line {line}: " if line is not None else ""
    return Rejected(
        field="(signature)",
        reason=f"{where}(signature): {NOT_SIGNED} (no valid eams-principal/eams-signature "
        "headers); submit it with POST /api/ingest or eams import",
    )


def is_source_type(event_type: str) -> bool:
    """Whether a source system may submit ``event_type`` (EAMS decides the others)."""
    return not event_type.startswith(SYSTEM_PREFIXES)


def process_raw(
    raw: bytes,
    *,
    reference: RegionReference,
    secret: bytes,
    line: int | None = None,
    principal: Submitter | None = None,
    max_future_skew: dt.timedelta = DEFAULT_FUTURE_SKEW,
    now: dt.datetime | None = None,
) -> Accepted | Rejected:
    """Validate, authorize and pseudonymise one raw input; never raises for bad input.

    ``principal`` is who submitted it (see the module docstring); without one only the
    input itself is checked. ``now`` (default: the current time) bounds ``occurred_at``.
    """
    where = f"line {line}: " if line is not None else ""
    if len(raw) > MAX_INPUT_BYTES:
        return too_large(len(raw), where)
    data: bytes | dict[str, Any] = raw
    if principal is not None:
        bound = _bind(raw, principal, where)
        if isinstance(bound, Rejected):
            return bound
        data = bound
    try:
        envelope = parse_event(data, reference=reference, line=line)
    except EventRejectedError as exc:
        return Rejected(field=exc.field, reason=str(exc))
    if not is_source_type(envelope.event_type):
        return Rejected(
            field="event_type",
            reason=f"{where}event_type: {envelope.event_type!r} is recorded by EAMS itself "
            "(alerts, notifications, silences, playbook runs, risk levels); use the API or "
            "CLI command that decides it (e.g. eams alerts ack, eams playbooks activate)",
        )
    if envelope.source.startswith("eams."):
        return Rejected(
            field="source",
            reason=f"{where}source: {envelope.source!r} is reserved for EAMS's own components; "
            "name your system (e.g. civil-affairs)",
        )
    if principal is not None:
        refused = authorize(envelope, principal, reference, where)
        if refused is not None:
            return refused
    late = _too_far_ahead(envelope, now or dt.datetime.now(SHANGHAI), max_future_skew, where)
    if late is not None:
        return late
    key, value, masked = pseudonymised_json(envelope, secret)
    return Accepted(
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        key=key,
        value=value,
        masked=masked,
    )


def too_large(size: int, where: str = "") -> Rejected:
    """The rejection of an input larger than :data:`MAX_INPUT_BYTES`."""
    return Rejected(
        field="(body)",
        reason=f"{where}the input is {size:,} bytes; one event may take at most "
        f"{MAX_INPUT_BYTES:,} (its texts are at most 500 characters): remove what is not the "
        "event, or split it",
    )


def _bind(raw: bytes, who: Submitter, where: str) -> bytes | dict[str, Any] | Rejected:
    """The input with ``source``/``actor`` taken from the principal, or why it cannot be.
    Bytes that are not a JSON object are returned as they are (parsing names the problem)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if not isinstance(doc, dict):
        return raw
    fixed: dict[str, str] = {}
    if who.kind == "user":
        fixed = {"source": who.source, "actor": who.name}
    elif who.kind == "apikey":
        fixed = {"source": who.source}
    for name, want in fixed.items():
        given = doc.get(name)
        if given is None:
            doc[name] = want
        elif given != want:
            reason = f"{_must_be(who, name, want)} (got {_short(given)})"
            return Rejected(
                field=name,
                reason=f"{where}{name}: {reason}; leave {name} out to have it filled in",
            )
    for name, default in (("source", who.source), ("actor", who.name)):
        if doc.get(name) is None:
            doc[name] = default
    return doc


def _must_be(who: Submitter, name: str, want: str) -> str:
    if who.kind == "apikey":
        return f"this API key submits for {want!r} only"
    if name == "actor":
        return f"must be you ({want!r}) when you are signed in"
    return f"events a signed-in user enters are recorded with source {want!r}"


def in_regions(regions: tuple[str, ...], code: str, reference: RegionReference) -> bool:
    """Whether ``code`` lies within ``regions``: it or its city is one of them (no regions
    = everywhere). The read routes apply the same rule (``eams.http.auth.in_scope``)."""
    return not regions or code in regions or reference.city_of(code) in regions


def authorize(
    envelope: Envelope, who: Submitter, reference: RegionReference, where: str = ""
) -> Rejected | None:
    """Why ``who`` may not submit this (valid) event, or None: its type must be on an API
    key's allow-list, and its region and every ``payload.regions`` code within the
    principal's regions."""
    if who.types and envelope.event_type not in who.types:
        return Rejected(
            field="event_type",
            reason=f"{where}event_type: the API key of {who.name!r} may submit "
            f"{', '.join(who.types)} only (got {envelope.event_type!r}); an administrator "
            f"can widen it: eams apikeys add {who.name} --types …",
        )
    if not who.regions:
        return None
    whose = "the API key's regions" if who.kind == "apikey" else "your regions"
    scope = f"{whose} ({', '.join(who.regions)})"
    if not in_regions(who.regions, envelope.region, reference):
        return Rejected(
            field="region",
            reason=f"{where}region: {envelope.region} is outside {scope}",
        )
    codes: tuple[str, ...] = getattr(envelope.payload, "regions", ())
    for i, code in enumerate(codes):
        if not in_regions(who.regions, code, reference):
            return Rejected(
                field=f"payload.regions[{i}]",
                reason=f"{where}payload.regions[{i}]: {code} is outside {scope}",
            )
    if envelope.event_type == "disaster_area.cleared" and not codes:
        return Rejected(
            field="payload.regions",
            reason=f"{where}payload.regions: name the regions you clear; an empty list "
            f"clears every region of the disaster, which is more than {scope}",
        )
    return None


def _too_far_ahead(
    envelope: Envelope, now: dt.datetime, skew: dt.timedelta, where: str
) -> Rejected | None:
    ahead = envelope.occurred_at - now
    if ahead <= skew:
        return None
    return Rejected(
        field="occurred_at",
        reason=f"{where}occurred_at: {envelope.occurred_at.isoformat()} is "
        f"{_duration(ahead)} ahead of the current time ({now.isoformat(timespec='seconds')}); "
        f"at most {_duration(skew)} ahead is accepted (EAMS_MAX_FUTURE_SKEW): check the "
        "sender's clock and time zone",
    )


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def raw_key(raw: bytes) -> bytes:
    """Partition key for ``eams.ingest.raw``: the event id, so every submission of an id
    lands on one partition, whose owner holds the id's dedupe mark (:mod:`streams.ingest`).
    The id is keyed in its canonical spelling (lower case, hyphenated): the envelope reads
    ``{…}``, ``urn:uuid:…`` and 32 hex digits as the same id, so a resubmission spelled
    another way must not land elsewhere. Bytes without an event id get a digest of
    themselves (they will be dead-lettered anyway)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        event_id = doc.get("event_id")
        if isinstance(event_id, str) and event_id:
            return _canonical_id(event_id).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest().encode()


_UUID = TypeAdapter(UUID)


def _canonical_id(event_id: str) -> str:
    """``event_id`` as the envelope's field reads it, printed canonically; an id it would
    refuse is only lower-cased (the input is dead-lettered, wherever it lands)."""
    if len(event_id) == 36:  # the hyphenated spelling, by far the most common: no parsing
        return event_id.lower()
    try:
        return str(_UUID.validate_python(event_id))
    except ValidationError:
        return event_id.lower()
