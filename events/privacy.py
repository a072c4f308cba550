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


def pseudonymise(envelope: Envelope, secret: bytes) -> Envelope:
    """Return ``envelope`` with personal data replaced by a pseudonym and masked fields.

    Idempotent: ``pseudonymise(pseudonymise(e, s), s) == pseudonymise(e, s)``.
    """
    payload = envelope.payload
    aggregate_id = envelope.aggregate_id
    if isinstance(payload, PersonPayload):
        update: dict[str, Any] = {}
        clear_id = payload.national_id
        if payload.national_id is not None:
            update["person_id"] = pseudonym(payload.national_id, secret)
            update["national_id_masked"] = mask_national_id(payload.national_id)
            update["national_id"] = None
        if payload.name is not None:
            update["name_masked"] = mask_name(payload.name)
            update["name"] = None
        if payload.phone is not None:
            update["phone_masked"] = mask_phone(payload.phone)
            update["phone"] = None
        if update:
            payload = payload.model_copy(update=update)
        if aggregate_id is None or aggregate_id == clear_id:
            aggregate_id = payload.aggregate_key(envelope.region)
    elif aggregate_id is None:
        aggregate_id = payload.aggregate_key(envelope.region)
    if aggregate_id is None:
        aggregate_id = str(envelope.event_id)
    elif _looks_like_national_id(aggregate_id):
        # A clear ID used as a key would leak through Kafka keys and projections.
        aggregate_id = pseudonym(aggregate_id, secret)
    if payload is envelope.payload and aggregate_id == envelope.aggregate_id:
        return envelope
    return envelope.model_copy(update={"payload": payload, "aggregate_id": aggregate_id})


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
