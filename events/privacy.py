"""Pseudonymisation at the ingest boundary.

National ID numbers, phone numbers and names never leave ingest in clear. The ingest
stage calls ``pseudonymise`` on every parsed event; it

1. derives ``person_id`` = keyed HMAC-SHA256 pseudonym of the national ID,
2. fills the masked display fields (``national_id_masked``, ``name_masked``,
   ``phone_masked``) and removes ``national_id``, ``name`` and ``phone``,
3. sets ``aggregate_id`` (person events: the pseudonym; others: the aggregate the
   payload implies, else the event id), replacing a clear national ID used as key.

The transformation is idempotent. Downstream consumers call ``assert_no_clear_pii``
as a guard before writing anything.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from events.catalogue import PII_FIELDS
from events.envelope import Envelope
from events.errors import EventRejectedError
from events.identity import mask_name, mask_national_id, mask_phone, validate_national_id
from events.payload_base import PersonPayload

__all__ = ["assert_no_clear_pii", "pseudonym", "pseudonymise"]

_PII_LABELS = {"national_id": "national ID", "phone": "phone number", "name": "name"}


def pseudonym(national_id: str, secret: bytes) -> str:
    """Return ``p_`` + the first 32 hex characters of HMAC-SHA256(secret, national ID).

    The ID is normalised first (stripped, upper-case X), so ``…123x`` and ``…123X``
    map to the same person.
    """
    normalised = national_id.strip().upper().encode("ascii", "replace")
    return "p_" + hmac.new(secret, normalised, hashlib.sha256).hexdigest()[:32]


def _looks_like_national_id(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False  # cheap pre-check: most keys (pseudonyms, credit codes) stop here
    try:
        validate_national_id(value)
    except EventRejectedError:
        return False
    return True


def _changes(envelope: Envelope, secret: bytes) -> tuple[dict[str, Any], str]:
    """What pseudonymising ``envelope`` changes: payload fields, and the aggregate id."""
    payload = envelope.payload
    aggregate_id = envelope.aggregate_id
    update: dict[str, Any] = {}
    if isinstance(payload, PersonPayload):
        clear_id = payload.national_id
        person_id = payload.person_id
        if payload.national_id is not None:
            person_id = update["person_id"] = pseudonym(payload.national_id, secret)
            update["national_id_masked"] = mask_national_id(payload.national_id)
            update["national_id"] = None
        if payload.name is not None:
            update["name_masked"] = mask_name(payload.name)
            update["name"] = None
        if payload.phone is not None:
            update["phone_masked"] = mask_phone(payload.phone)
            update["phone"] = None
        if aggregate_id is None or aggregate_id == clear_id:
            aggregate_id = person_id  # person events are keyed by the pseudonym
    elif aggregate_id is None:
        aggregate_id = payload.aggregate_key(envelope.region)
    if aggregate_id is None:
        aggregate_id = str(envelope.event_id)
    elif _looks_like_national_id(aggregate_id):
        # A clear ID used as a key would leak through Kafka keys and projections.
        aggregate_id = pseudonym(aggregate_id, secret)
    return update, aggregate_id


def pseudonymise(envelope: Envelope, secret: bytes) -> Envelope:
    """Return ``envelope`` with personal data replaced by a pseudonym and masked fields.

    Idempotent: ``pseudonymise(pseudonymise(e, s), s) == pseudonymise(e, s)``.
    """
    update, aggregate_id = _changes(envelope, secret)
    if not update and aggregate_id == envelope.aggregate_id:
        return envelope
    payload = envelope.payload.model_copy(update=update) if update else envelope.payload
    return envelope.model_copy(update={"payload": payload, "aggregate_id": aggregate_id})


def pseudonymised_json(envelope: Envelope, secret: bytes) -> tuple[bytes, bytes]:
    """``(partition key, JSON)`` of ``pseudonymise(envelope)`` without building it.

    The ingest hot path: the same changes as :func:`pseudonymise`, applied to the JSON
    document instead of copying two models (same bytes as ``pseudonymise(e).to_json()``).
    """
    update, aggregate_id = _changes(envelope, secret)
    doc = envelope.as_dict()
    doc["aggregate_id"] = aggregate_id
    payload = doc["payload"]
    for name, value in update.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    if update:
        # Keep the field order of the model, as to_json() would.
        order = type(envelope.payload).model_fields
        doc["payload"] = {k: payload[k] for k in order if k in payload}
    return aggregate_id.encode("utf-8"), orjson.dumps(doc)


def assert_no_clear_pii(envelope: Envelope) -> None:
    """Raise EventRejectedError if the event still carries a clear national ID, phone or name."""
    for field in PII_FIELDS:
        if getattr(envelope.payload, field, None) is not None:
            raise EventRejectedError(
                f"payload.{field}",
                f"clear-text {_PII_LABELS[field]} must not appear downstream of ingest",
            )
    if envelope.aggregate_id is not None and _looks_like_national_id(envelope.aggregate_id):
        raise EventRejectedError(
            "aggregate_id", "clear-text national ID must not appear downstream of ingest"
        )
